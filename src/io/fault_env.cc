#include "io/fault_env.h"

#include <algorithm>
#include <thread>

namespace vx {

class FaultFile : public File {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<File> base)
      : File(base->path(), base->direct()), env_(env), base_(std::move(base)) {}

  Status Read(uint64_t offset, size_t n, void* buf, size_t* bytes_read) override {
    size_t allowed = n;
    *bytes_read = 0;
    VX_RETURN_IF_ERROR(env_->BeforeRead(path_, &allowed));
    // A short read is simulated after a full one, so O_DIRECT alignment holds.
    const Status s = base_->Read(offset, n, buf, bytes_read);
    *bytes_read = std::min(*bytes_read, allowed);
    return s;
  }
  void ReadBatch(std::span<ReadRequest> requests) override {
    // Faults are decided per request; the survivors go to the base as one batch.
    std::vector<ReadRequest> pass;
    std::vector<size_t> index, allowed_bytes;
    for (size_t i = 0; i < requests.size(); ++i) {
      ReadRequest& r = requests[i];
      size_t allowed = r.length;
      r.bytes_read = 0;
      r.status = env_->BeforeRead(path_, &allowed);
      if (!r.status.ok()) continue;
      pass.push_back(ReadRequest{r.offset, r.length, r.buf, 0, Status::Ok()});
      index.push_back(i);
      allowed_bytes.push_back(allowed);
    }
    base_->ReadBatch(pass);
    for (size_t j = 0; j < pass.size(); ++j) {
      requests[index[j]].bytes_read = std::min(pass[j].bytes_read, allowed_bytes[j]);
      requests[index[j]].status = pass[j].status;
    }
  }
  Status Write(uint64_t offset, const void* buf, size_t n) override {
    bool torn = false;
    size_t allowed = n;
    Status s = env_->BeforeWrite(path_, &allowed, &torn);
    if (allowed > 0) {
      VX_RETURN_IF_ERROR(env_->BeforeFirstChange(path_, base_.get()));
      VX_RETURN_IF_ERROR(base_->Write(offset, buf, allowed));
      env_->AfterWrite(path_, allowed);
    }
    if (torn) return Status::IOError(path_ + ": injected torn write at offset " + std::to_string(offset));
    return s;
  }
  Status Sync() override {
    VX_RETURN_IF_ERROR(env_->PowerCheck(path_ + ": sync"));
    VX_RETURN_IF_ERROR(base_->Sync());
    return env_->AfterSync(path_, base_.get());
  }
  Result<uint64_t> Size() override { return base_->Size(); }
  Status Allocate(uint64_t size) override {
    VX_RETURN_IF_ERROR(env_->PowerCheck(path_ + ": allocate"));
    VX_RETURN_IF_ERROR(env_->BeforeFirstChange(path_, base_.get()));
    env_->AfterWrite(path_, 0);
    return base_->Allocate(size);
  }
  Status Truncate(uint64_t size) override {
    VX_RETURN_IF_ERROR(env_->PowerCheck(path_ + ": truncate"));
    VX_RETURN_IF_ERROR(env_->BeforeFirstChange(path_, base_.get()));
    env_->AfterWrite(path_, 0);
    return base_->Truncate(size);
  }

 private:
  FaultEnv* env_;
  std::unique_ptr<File> base_;
};

void FaultEnv::FailReads(std::string filter, uint64_t after_good_reads, Status error) {
  std::lock_guard l(mu_);
  read_failures_.push_back({std::move(filter), after_good_reads, std::move(error)});
}
void FaultEnv::ShortenReads(std::string filter, size_t max_bytes) {
  std::lock_guard l(mu_);
  short_reads_.push_back({std::move(filter), max_bytes, Status::Ok()});
}
void FaultEnv::FailWritesAfter(std::string filter, uint64_t bytes, Status error) {
  std::lock_guard l(mu_);
  write_failures_.push_back({std::move(filter), bytes, std::move(error)});
}
void FaultEnv::TearNextWrite(std::string filter, size_t keep_bytes) {
  std::lock_guard l(mu_);
  tears_.push_back({std::move(filter), keep_bytes, Status::Ok()});
}
void FaultEnv::CutPowerAfterWrites(uint64_t bytes) {
  std::lock_guard l(mu_);
  power_budget_ = bytes;
}
void FaultEnv::ClearFaults() {
  std::lock_guard l(mu_);
  power_budget_.reset();
  power_cut_ = false;
  read_failures_.clear();
  short_reads_.clear();
  write_failures_.clear();
  tears_.clear();
  free_space_.reset();
  latency_us_ = 0;
}

void FaultEnv::SetFreeSpace(uint64_t bytes) {
  std::lock_guard l(mu_);
  free_space_ = bytes;
}

Result<uint64_t> FaultEnv::FreeSpace(const std::string& dir) {
  {
    std::lock_guard l(mu_);
    if (free_space_) return *free_space_;
  }
  return base_->FreeSpace(dir);
}

uint64_t FaultEnv::ReadCount(const std::string& filter) const {
  std::lock_guard l(mu_);
  uint64_t n = 0;
  for (const auto& [path, count] : reads_by_path_) {
    if (Matches(filter, path)) n += count;
  }
  return n;
}

uint64_t FaultEnv::BytesWritten() const {
  std::lock_guard l(mu_);
  return bytes_written_;
}

Status FaultEnv::PowerCheck(const std::string& what) const {
  std::lock_guard l(mu_);
  return power_cut_ ? Status::IOError(what + ": injected power cut") : Status::Ok();
}

Status FaultEnv::BeforeRead(const std::string& path, size_t* n) {
  if (const int64_t us = latency_us_.load()) std::this_thread::sleep_for(std::chrono::microseconds(us));
  std::lock_guard l(mu_);
  ++reads_by_path_[path];
  for (Rule& r : read_failures_) {
    if (!Matches(r.filter, path)) continue;
    if (r.budget == 0) return r.error.WithContext(path);
    --r.budget;
  }
  for (const Rule& r : short_reads_) {
    if (Matches(r.filter, path)) *n = std::min<size_t>(*n, r.budget);
  }
  return Status::Ok();
}

Status FaultEnv::BeforeWrite(const std::string& path, size_t* n, bool* torn) {
  std::lock_guard l(mu_);
  if (power_budget_ && (power_cut_ || bytes_written_ + *n > *power_budget_)) {
    power_cut_ = true;
    *n = 0;
    return Status::IOError(path + ": injected power cut");
  }
  for (size_t i = 0; i < tears_.size(); ++i) {
    if (Matches(tears_[i].filter, path)) {
      *n = std::min<size_t>(*n, tears_[i].budget);
      *torn = true;
      tears_.erase(tears_.begin() + static_cast<long>(i));
      return Status::Ok();
    }
  }
  for (size_t i = 0; i < write_failures_.size(); ++i) {
    const Rule& r = write_failures_[i];
    if (!Matches(r.filter, path)) continue;
    uint64_t& used = written_by_rule_[std::to_string(i)];
    if (used + *n > r.budget) {
      *n = 0;
      return r.error.WithContext(path);
    }
    used += *n;
  }
  return Status::Ok();
}

namespace {

Result<std::vector<uint8_t>> Content(File* file) {
  VX_ASSIGN_OR_RETURN(const uint64_t size, file->Size());
  std::vector<uint8_t> bytes(size);
  size_t got = 0;
  if (size > 0) VX_RETURN_IF_ERROR(file->Read(0, size, bytes.data(), &got));
  bytes.resize(got);
  return bytes;
}

}  // namespace

// Under the lock throughout: a second writer's first change waits until
// the content before the first one is recorded.
Status FaultEnv::BeforeFirstChange(const std::string& path, File* file) {
  std::lock_guard l(mu_);
  if (durable_.count(path) || dirty_.count(path) || undurable_creates_.count(path)) return Status::Ok();
  VX_ASSIGN_OR_RETURN(durable_[path], Content(file));
  return Status::Ok();
}

Status FaultEnv::AfterSync(const std::string& path, File* file) {
  VX_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, Content(file));
  std::lock_guard l(mu_);
  durable_[path] = std::move(bytes);
  dirty_.erase(path);
  return Status::Ok();
}

Result<std::unique_ptr<File>> FaultEnv::OpenFile(const std::string& path, const OpenOptions& opts) {
  if (opts.write || opts.create || opts.truncate) VX_RETURN_IF_ERROR(PowerCheck(path + ": open for writing"));
  const bool existed = base_->FileExists(path);
  VX_ASSIGN_OR_RETURN(auto file, base_->OpenFile(path, opts));
  {
    std::lock_guard l(mu_);
    if (!existed) undurable_creates_.insert(path);
    if (opts.truncate) dirty_.insert(path);
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(file)));
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  VX_RETURN_IF_ERROR(PowerCheck("rename " + from));
  std::lock_guard l(mu_);
  PendingRename p{from, to, std::nullopt};
  if (auto it = durable_.find(to); it != durable_.end()) p.displaced = it->second;
  VX_RETURN_IF_ERROR(base_->RenameFile(from, to));
  // Content tracking moves with the file.
  if (auto it = durable_.find(from); it != durable_.end()) {
    durable_[to] = std::move(it->second);
    durable_.erase(it);
  } else {
    durable_.erase(to);
  }
  if (dirty_.erase(from))
    dirty_.insert(to);
  else
    dirty_.erase(to);
  pending_renames_.push_back(std::move(p));
  return Status::Ok();
}

Status FaultEnv::DeleteFile(const std::string& path) {
  VX_RETURN_IF_ERROR(PowerCheck("delete " + path));
  std::lock_guard l(mu_);
  VX_RETURN_IF_ERROR(base_->DeleteFile(path));
  durable_.erase(path);
  dirty_.erase(path);
  undurable_creates_.erase(path);
  return Status::Ok();
}

Status FaultEnv::CreateDir(const std::string& path) {
  VX_RETURN_IF_ERROR(PowerCheck("mkdir " + path));
  return base_->CreateDir(path);
}

Status FaultEnv::DeleteDir(const std::string& path) {
  VX_RETURN_IF_ERROR(PowerCheck("rmdir " + path));
  return base_->DeleteDir(path);
}

Status FaultEnv::SyncDir(const std::string& dir) {
  VX_RETURN_IF_ERROR(PowerCheck(dir + ": fsync"));
  VX_RETURN_IF_ERROR(base_->SyncDir(dir));
  std::lock_guard l(mu_);
  std::erase_if(undurable_creates_, [&](const std::string& p) { return DirName(p) == dir; });
  std::erase_if(pending_renames_, [&](const PendingRename& r) { return DirName(r.to) == dir; });
  return Status::Ok();
}

Status FaultEnv::WriteWhole(const std::string& path, const std::vector<uint8_t>& bytes) {
  VX_ASSIGN_OR_RETURN(auto f, base_->OpenFile(path, OpenOptions{.write = true, .create = true, .truncate = true}));
  if (!bytes.empty()) VX_RETURN_IF_ERROR(f->Write(0, bytes.data(), bytes.size()));
  return f->Sync();
}

Status FaultEnv::SimulateCrash() {
  std::lock_guard l(mu_);
  // 1. Undo renames the directory never made durable, newest first.
  for (auto it = pending_renames_.rbegin(); it != pending_renames_.rend(); ++it) {
    VX_RETURN_IF_ERROR(base_->RenameFile(it->to, it->from));
    if (auto d = durable_.find(it->to); d != durable_.end()) {
      durable_[it->from] = std::move(d->second);
      durable_.erase(d);
    }
    if (dirty_.erase(it->to)) dirty_.insert(it->from);
    if (it->displaced) {
      VX_RETURN_IF_ERROR(WriteWhole(it->to, *it->displaced));
      durable_[it->to] = *it->displaced;
    }
  }
  pending_renames_.clear();
  // 2. Files whose creation was never made durable vanish.
  for (const std::string& p : undurable_creates_) {
    if (base_->FileExists(p)) VX_RETURN_IF_ERROR(base_->DeleteFile(p));
    durable_.erase(p);
    dirty_.erase(p);
  }
  undurable_creates_.clear();
  // 3. Other files lose what was written since their last Sync.
  for (const std::string& p : dirty_) {
    if (!base_->FileExists(p)) continue;
    auto d = durable_.find(p);
    VX_RETURN_IF_ERROR(WriteWhole(p, d == durable_.end() ? std::vector<uint8_t>{} : d->second));
  }
  dirty_.clear();
  power_budget_.reset();
  power_cut_ = false;
  return Status::Ok();
}

}  // namespace vx
