// An in-memory Env for tests: files are byte vectors in a map, directories
// are implied by paths (a directory exists while a file below it does). Same contract as the POSIX Env (env.h).
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "io/env.h"

namespace vx {
namespace {

struct MemData {
  std::shared_mutex mu;
  std::vector<uint8_t> bytes;
};

class MemFile : public File {
 public:
  MemFile(std::string path, std::shared_ptr<MemData> data) : File(std::move(path), false), data_(std::move(data)) {}

  Status Read(uint64_t offset, size_t n, void* buf, size_t* bytes_read) override {
    std::shared_lock lock(data_->mu);
    const uint64_t size = data_->bytes.size();
    const size_t got = offset >= size ? 0 : static_cast<size_t>(std::min<uint64_t>(n, size - offset));
    if (got) std::memcpy(buf, data_->bytes.data() + offset, got);
    *bytes_read = got;
    return Status::Ok();
  }
  Status Write(uint64_t offset, const void* buf, size_t n) override {
    std::unique_lock lock(data_->mu);
    if (data_->bytes.size() < offset + n) data_->bytes.resize(offset + n);
    std::memcpy(data_->bytes.data() + offset, buf, n);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Result<uint64_t> Size() override {
    std::shared_lock lock(data_->mu);
    return static_cast<uint64_t>(data_->bytes.size());
  }
  Status Allocate(uint64_t size) override {
    std::unique_lock lock(data_->mu);
    if (data_->bytes.size() < size) data_->bytes.resize(size);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    std::unique_lock lock(data_->mu);
    data_->bytes.resize(size);
    return Status::Ok();
  }

 private:
  std::shared_ptr<MemData> data_;
};

class MemEnv : public Env {
 public:
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& o) override {
    std::lock_guard lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) {
      if (!o.create) return Status::NotFound(path + ": No such file or directory");
      it = files_.emplace(path, std::make_shared<MemData>()).first;
    } else if (o.truncate) {
      std::unique_lock data_lock(it->second->mu);
      it->second->bytes.clear();
    }
    return std::unique_ptr<File>(new MemFile(path, it->second));
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return Status::NotFound("rename " + from + " to " + to + ": No such file or directory");
    files_[to] = it->second;
    files_.erase(from);
    return Status::Ok();
  }
  Status DeleteFile(const std::string& path) override {
    std::lock_guard lock(mu_);
    if (files_.erase(path) == 0) return Status::NotFound("delete " + path + ": No such file or directory");
    return Status::Ok();
  }
  Status CreateDir(const std::string&) override { return Status::Ok(); }
  Status DeleteDir(const std::string& path) override {
    std::lock_guard lock(mu_);
    const std::string prefix = path + "/";
    for (const auto& [name, data] : files_) {
      if (name.compare(0, prefix.size(), prefix) == 0)
        return Status::IOError("rmdir " + path + ": Directory not empty");
    }
    return Status::Ok();
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  bool FileExists(const std::string& path) override {
    std::lock_guard lock(mu_);
    return files_.count(path) > 0;
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    const std::string prefix = dir + "/";
    for (const auto& [path, data] : files_) {
      if (path.compare(0, prefix.size(), prefix) != 0) continue;
      // A file below a subdirectory names the (implied) subdirectory.
      std::string name = path.substr(prefix.size(), path.find('/', prefix.size()) - prefix.size());
      if (names.empty() || names.back() != name) names.push_back(std::move(name));
    }
    return names;
  }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    struct MemLock : FileLock {
      MemLock(MemEnv* e, std::string p) : env(e), path(std::move(p)) {}
      ~MemLock() override {
        std::lock_guard lock(env->mu_);
        env->locked_.erase(path);
      }
      MemEnv* env;
      std::string path;
    };
    std::lock_guard lock(mu_);
    if (!locked_.insert(path).second) return Status::Busy(path + ": locked by another writer");
    if (!files_.count(path)) files_.emplace(path, std::make_shared<MemData>());
    return std::unique_ptr<FileLock>(new MemLock(this, path));
  }
  // Memory has no capacity limit; FaultEnv::SetFreeSpace stands in for a full disk.
  Result<uint64_t> FreeSpace(const std::string&) override { return UINT64_MAX; }
  std::string Describe() const override { return "memory"; }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemData>> files_;
  std::set<std::string> locked_;
};

}  // namespace

std::unique_ptr<Env> NewMemEnv() { return std::make_unique<MemEnv>(); }

}  // namespace vx
