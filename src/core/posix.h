// The one place where errno becomes a Status, and small POSIX helpers for the
// plain (buffered, non-O_DIRECT) files that core reads and writes: dataset
// inputs and outputs. Index files go through the Env in src/io/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vx/status.h"

namespace vx {

// Maps errno `err` to a Status: ENOENT -> NotFound, ENOSPC/EDQUOT -> NoSpace,
// others -> IOError. The message is "<context>: <strerror>".
Status ErrnoStatus(const std::string& context, int err);

// A file descriptor closed on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileDescriptor& operator=(FileDescriptor&& o) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

Result<FileDescriptor> OpenForRead(const std::string& path);
Result<uint64_t> FileSize(const std::string& path, int fd);
// Reads exactly n bytes at offset; a short read is Corruption ("file ends at").
Status PreadExact(const std::string& path, int fd, void* buf, size_t n, uint64_t offset);
Status PwriteAll(const std::string& path, int fd, const void* buf, size_t n, uint64_t offset);

// Asks for transparent huge pages over [p, p + bytes) (the 2 MiB pages
// inside it): a build's or a pool's random reads over tens of MB then miss
// the TLB far less. Call before the memory is first touched; where THP is
// off it does nothing, and nothing depends on it.
void AdviseHugePages(void* p, size_t bytes);

// Reserves n elements of v (untouched) with huge pages advised: the vector
// may then be filled.
template <class V>
void ReserveHugePages(V& v, size_t n) {
  v.reserve(n);
  AdviseHugePages(v.data(), n * sizeof(*v.data()));
}

// The memory this process may use: the machine's RAM, or the cgroup's limit
// (memory.max, cgroup v2) when it is lower.
uint64_t UsableMemoryBytes();

}  // namespace vx
