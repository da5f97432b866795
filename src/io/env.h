// The file layer every index file operation goes through (LevelDB's Env).
//
// Backends, all satisfying the same contract and run by the same tests:
//   NewPosixEnv(kPread)    pread/pwrite
//   NewPosixEnv(kIoUring)  reads through io_uring (liburing), one ring per
//                          thread, a batch submitted at once; writes pwrite
//   NewPosixEnv(kAuto)     io_uring where the kernel allows it, else pread
//   NewMemEnv()            in memory, for tests
//   FaultEnv (fault_env.h) wraps any Env and injects faults
//
// Contract of File:
//   * Reads at and past end of file are not errors: a request reports the
//     bytes it got (bytes_read < length only at end of file). The caller
//     decides whether that is corruption (the page layer does).
//   * With OpenOptions::direct the file is opened O_DIRECT: buffers, offsets
//     and lengths must be multiples of kDirectIoAlignment. Where the file
//     system refuses O_DIRECT (tmpfs), the file opens buffered and direct()
//     says so.
//   * A File may be used by many threads at once (reads and writes to
//     disjoint ranges); Env methods are thread-safe.
//   * Errors name the file and offset: EIO -> IOError, ENOSPC -> NoSpace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vx/status.h"

namespace vx {

inline constexpr size_t kDirectIoAlignment = 4096;

// One read of a batch. The batch fills bytes_read and status per request.
struct ReadRequest {
  uint64_t offset = 0;
  size_t length = 0;
  void* buf = nullptr;
  size_t bytes_read = 0;  // out: < length only at end of file
  Status status;          // out
};

struct OpenOptions {
  bool write = false;   // open for reading and writing
  bool create = false;  // create if missing (implies write)
  bool truncate = false;
  bool direct = false;  // O_DIRECT (see contract above)
};

class File {
 public:
  virtual ~File() = default;
  const std::string& path() const { return path_; }
  bool direct() const { return direct_; }

  // Reads up to n bytes at offset; *bytes_read < n only at end of file.
  virtual Status Read(uint64_t offset, size_t n, void* buf, size_t* bytes_read) = 0;
  // Reads every request, in one submission where the backend can; each
  // request gets its own status. Returns OK even if some requests failed.
  virtual void ReadBatch(std::span<ReadRequest> requests);
  // Writes all n bytes at offset.
  virtual Status Write(uint64_t offset, const void* buf, size_t n) = 0;
  // Makes written data durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Result<uint64_t> Size() = 0;
  // Reserves space up to `size` bytes (fallocate); the size becomes at least `size`.
  virtual Status Allocate(uint64_t size) = 0;
  virtual Status Truncate(uint64_t size) = 0;

 protected:
  File(std::string path, bool direct) : path_(std::move(path)), direct_(direct) {}
  std::string path_;
  bool direct_;
};

// An exclusive lock on a file, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& opts) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable after SyncDir.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  virtual Status CreateDir(const std::string& path) = 0;  // OK if it exists
  virtual Status DeleteDir(const std::string& path) = 0;  // must be empty
  // Makes creations, renames and deletions in `dir` durable (fsync of the directory).
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Names of the files and directories in `dir`.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Takes an exclusive lock on `path` (created if missing) without waiting;
  // Busy if another holder, in this process or another, has it (flock).
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // Bytes an unprivileged writer may still write on the file system holding
  // `dir` (statvfs f_bavail).
  virtual Result<uint64_t> FreeSpace(const std::string& dir) = 0;
  // Which backend serves reads, e.g. "io_uring", or "pread (io_uring unavailable: ...)".
  virtual std::string Describe() const = 0;
};

enum class IoBackend { kAuto, kPread, kIoUring };

// A POSIX Env. kIoUring fails with NotSupported where the kernel refuses
// io_uring (old kernel, seccomp, io_uring_disabled); kAuto falls back to pread
// and records why in Describe().
Result<std::unique_ptr<Env>> NewPosixEnv(IoBackend backend);
// The process-wide kAuto Env (never null).
Env* DefaultEnv();
std::unique_ptr<Env> NewMemEnv();

// A zeroed buffer aligned for O_DIRECT, freed on destruction. Its memory is
// mapped, not touched: the kernel backs a page (with zeros) only when it is
// first written, so a large buffer costs RAM as it fills, not when made.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Aborts when the memory cannot be mapped (small buffers; see Allocate).
  explicit AlignedBuffer(size_t size);
  // ResourceExhausted, with the figure, when `size` bytes cannot be mapped.
  static Result<AlignedBuffer> Allocate(size_t size);
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  ~AlignedBuffer();
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Directory part of a path ("." if none).
std::string DirName(const std::string& path);

}  // namespace vx
