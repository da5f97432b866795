// FaultEnv: wraps any Env and injects the faults a storage engine must
// survive, for tests (STYLE.md practice 4). Each fault applies to files whose
// path contains a filter string ("" matches every file).
//
//   FailReads      reads return an error (EIO by default) after N good reads
//   ShortenReads   reads return at most K bytes, with an OK status (the short
//                  read a layer above must notice)
//   FailWritesAfter  writes fail (ENOSPC by default) once N bytes were written
//   TearNextWrite  the next write persists only its first K bytes and fails
//   SetReadLatency every read sleeps first
//   SetFreeSpace   FreeSpace reports this many bytes (writes are not limited
//                  by it: FailWritesAfter does that)
//   CutPowerAfterWrites  once N bytes were written (all files), every write,
//                  sync, create, rename and delete fails: the process goes on
//                  but nothing more reaches the disk (a crash mid-write, with
//                  SimulateCrash after)
//   SimulateCrash  forgets every write not followed by Sync() of its file and
//                  every create/rename not followed by SyncDir() of its dir;
//                  restores power
//
// Counters: reads per filter, bytes written. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/env.h"

namespace vx {

class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* base) : base_(base) {}

  void FailReads(std::string filter, uint64_t after_good_reads = 0,
                 Status error = Status::IOError("injected EIO: Input/output error"));
  void ShortenReads(std::string filter, size_t max_bytes);
  void FailWritesAfter(std::string filter, uint64_t bytes,
                       Status error = Status::NoSpace("injected ENOSPC: No space left on device"));
  void TearNextWrite(std::string filter, size_t keep_bytes);
  void SetReadLatency(std::chrono::microseconds latency) { latency_us_ = latency.count(); }
  void CutPowerAfterWrites(uint64_t bytes);
  void SetFreeSpace(uint64_t bytes);
  void ClearFaults();

  // Reads (single or batched requests) of files matching `filter` since creation.
  uint64_t ReadCount(const std::string& filter = "") const;
  // Bytes written through this Env since creation.
  uint64_t BytesWritten() const;
  // Reverts the base Env to what a power cut would have left (see above).
  Status SimulateCrash();

  // Env
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& opts) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status CreateDir(const std::string& path) override;
  Status DeleteDir(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override { return base_->LockFile(path); }
  Result<uint64_t> FreeSpace(const std::string& dir) override;
  std::string Describe() const override { return "fault(" + base_->Describe() + ")"; }

 private:
  friend class FaultFile;
  // Called by FaultFile. Return a non-OK status to inject.
  Status BeforeRead(const std::string& path, size_t* n);
  Status BeforeWrite(const std::string& path, size_t* n, bool* torn);
  void AfterWrite(const std::string& path, size_t bytes) {
    std::lock_guard l(mu_);
    dirty_.insert(path);
    bytes_written_ += bytes;
  }
  Status AfterSync(const std::string& path, File* file);
  // Records a file's content as durable before its first change through
  // this Env when it existed before (SimulateCrash restores it).
  Status BeforeFirstChange(const std::string& path, File* file);

  struct Rule {
    std::string filter;
    uint64_t budget = 0;  // reads allowed (FailReads), bytes (FailWritesAfter), max bytes (short/tear)
    Status error;
  };
  struct PendingRename {
    std::string from, to;
    std::optional<std::vector<uint8_t>> displaced;  // durable content `to` had before
  };
  static bool Matches(const std::string& filter, const std::string& path) {
    return path.find(filter) != std::string::npos;
  }
  Status WriteWhole(const std::string& path, const std::vector<uint8_t>& bytes);
  Status PowerCheck(const std::string& what) const;  // IOError once the power is cut

  Env* base_;
  std::atomic<int64_t> latency_us_{0};
  mutable std::mutex mu_;
  std::vector<Rule> read_failures_, short_reads_, write_failures_, tears_;
  std::map<std::string, uint64_t> reads_by_path_;
  std::map<std::string, uint64_t> written_by_rule_;
  uint64_t bytes_written_ = 0;
  std::optional<uint64_t> power_budget_;  // bytes until the cut
  bool power_cut_ = false;
  std::optional<uint64_t> free_space_;  // unset: the base Env's
  // Crash model.
  std::map<std::string, std::vector<uint8_t>> durable_;  // content at last Sync
  std::set<std::string> dirty_;                          // written since last Sync
  std::set<std::string> undurable_creates_;              // created, dir not synced
  std::vector<PendingRename> pending_renames_;           // dir not synced
};

}  // namespace vx
