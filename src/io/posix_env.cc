#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "core/posix.h"
#include "io/env.h"
#include "io/uring.h"

namespace vx {

namespace {

size_t MappedBytes(size_t size) {
  return std::max<size_t>(kDirectIoAlignment,
                          (size + kDirectIoAlignment - 1) / kDirectIoAlignment * kDirectIoAlignment);
}

}  // namespace

AlignedBuffer::AlignedBuffer(size_t size) {
  auto made = Allocate(size);
  VX_CHECK(made.ok());  // small buffers only: a failure here is the machine out of address space
  *this = std::move(*made);
}

Result<AlignedBuffer> AlignedBuffer::Allocate(size_t size) {
  // Anonymous private mappings are zero-filled and page-aligned (4 KiB, the
  // O_DIRECT alignment), and backed only on first touch.
  void* p = size > SIZE_MAX - kDirectIoAlignment
                ? MAP_FAILED
                : ::mmap(nullptr, MappedBytes(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Status::ResourceExhausted("cannot allocate " + std::to_string(size >> 20) + " MB (" + std::to_string(size) +
                                     " bytes): " + std::strerror(errno));
  }
  AdviseHugePages(p, size);  // a pool's frames are read at random
  AlignedBuffer b;
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = size;
  return b;
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::munmap(data_, MappedBytes(size_));
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() {
  if (data_ != nullptr) ::munmap(data_, MappedBytes(size_));
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void File::ReadBatch(std::span<ReadRequest> requests) {
  for (ReadRequest& r : requests) r.status = Read(r.offset, r.length, r.buf, &r.bytes_read);
}

namespace {

class PosixFile : public File {
 public:
  PosixFile(std::string path, FileDescriptor fd, bool direct, bool uring)
      : File(std::move(path), direct), fd_(std::move(fd)), uring_(uring) {}

  Status Read(uint64_t offset, size_t n, void* buf, size_t* bytes_read) override {
    auto* p = static_cast<char*>(buf);
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_.get(), p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        *bytes_read = done;
        return ErrnoStatus(path_ + ": read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset),
                           errno);
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    *bytes_read = done;
    return Status::Ok();
  }

  void ReadBatch(std::span<ReadRequest> requests) override {
    if (uring_) {
      auto q = IoQueue::ForThisThread();
      if (q.ok()) {
        (*q)->ReadAll(fd_.get(), path_, requests);
        return;
      }
    }
    File::ReadBatch(requests);
  }

  Status Write(uint64_t offset, const void* buf, size_t n) override {
    return PwriteAll(path_, fd_.get(), buf, n, offset);
  }

  Status Sync() override {
    if (::fdatasync(fd_.get()) != 0) return ErrnoStatus(path_ + ": fdatasync", errno);
    return Status::Ok();
  }

  Result<uint64_t> Size() override { return FileSize(path_, fd_.get()); }

  Status Allocate(uint64_t size) override {
    const int rc = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(size));
    if (rc == 0) return Status::Ok();
    if (rc == EOPNOTSUPP || rc == EINVAL) return Truncate(std::max<uint64_t>(size, *Size()));
    return ErrnoStatus(path_ + ": allocate " + std::to_string(size) + " bytes", rc);
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(path_ + ": truncate to " + std::to_string(size), errno);
    }
    return Status::Ok();
  }

 private:
  FileDescriptor fd_;
  bool uring_;
};

class PosixEnv : public Env {
 public:
  PosixEnv(bool uring, std::string description) : uring_(uring), description_(std::move(description)) {}

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& o) override {
    int flags = O_CLOEXEC;
    flags |= (o.write || o.create) ? O_RDWR : O_RDONLY;
    if (o.create) flags |= O_CREAT;
    if (o.truncate) flags |= O_TRUNC;
    bool direct = o.direct;
    int fd = ::open(path.c_str(), flags | (direct ? O_DIRECT : 0), 0644);
    if (fd < 0 && direct && errno == EINVAL) {  // file system without O_DIRECT
      direct = false;
      fd = ::open(path.c_str(), flags, 0644);
    }
    if (fd < 0) return ErrnoStatus(path, errno);
    return std::unique_ptr<File>(new PosixFile(path, FileDescriptor(fd), direct, uring_));
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename " + from + " to " + to, errno);
    return Status::Ok();
  }

  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("delete " + path, errno);
    return Status::Ok();
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + path, errno);
    return Status::Ok();
  }

  Status DeleteDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return ErrnoStatus("rmdir " + path, errno);
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(dir, errno);
    FileDescriptor guard(fd);
    if (::fsync(fd) != 0) return ErrnoStatus(dir + ": fsync", errno);
    return Status::Ok();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    struct PosixLock : FileLock {
      explicit PosixLock(FileDescriptor f) : fd(std::move(f)) {}
      FileDescriptor fd;  // closing it releases the flock
    };
    FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoStatus("lock " + path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return Status::Busy(path + ": locked by another writer");
      return ErrnoStatus("lock " + path, errno);
    }
    return std::unique_ptr<FileLock>(new PosixLock(std::move(fd)));
  }

  Result<uint64_t> FreeSpace(const std::string& dir) override {
    struct statvfs st;
    if (::statvfs(dir.c_str(), &st) != 0) return ErrnoStatus("statvfs " + dir, errno);
    return uint64_t{st.f_bavail} * st.f_frsize;
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(dir, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
    }
    ::closedir(d);
    return names;
  }

  std::string Describe() const override { return description_; }

 private:
  bool uring_;
  std::string description_;
};

}  // namespace

Result<std::unique_ptr<Env>> NewPosixEnv(IoBackend backend) {
  if (backend == IoBackend::kPread) return std::unique_ptr<Env>(new PosixEnv(false, "pread"));
  std::string why;
  const bool ok = IoQueue::Available(&why);
  if (backend == IoBackend::kIoUring && !ok) return Status::NotSupported("io_uring is unavailable: " + why);
  if (!ok) return std::unique_ptr<Env>(new PosixEnv(false, "pread (io_uring unavailable: " + why + ")"));
  return std::unique_ptr<Env>(new PosixEnv(true, "io_uring"));
}

Env* DefaultEnv() {
  static Env* env = NewPosixEnv(IoBackend::kAuto).value().release();
  return env;
}

}  // namespace vx
