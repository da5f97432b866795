// The write-ahead log: an append-only file of checksummed records, each
// with a log sequence number (LSN) one above the last. A write is
// acknowledged once its record is in the log; open replays the log; a
// checkpoint that folded the records into segments empties it (Reset).
//
// Durability: by default Append returns once its record is on disk
// (fdatasync), and appenders that arrive while a sync runs share the next
// one (group commit). With sync_on_append off Append returns once the record
// is written to the OS (PostgreSQL's synchronous_commit = off): a process
// crash loses nothing, a power cut may lose the last acknowledged records,
// never tear or reorder them; Sync() makes everything appended durable.
//
// A write or sync that fails stops the log: every later Append fails with
// that error (after a failed fsync the OS may have dropped the data, so
// nothing written after it could be trusted), and the records acknowledged
// before it stay on disk for the next open.
//
// Recovery (Open): a crash mid-append leaves a torn tail, a prefix of the
// last records written. Replay stops at the last whole record and cuts the
// rest: a header cut short, a record that runs past the end of the file, a
// bad checksum in the file's last record, or zeros to the end. Damage
// anywhere else (a bad checksum with records after it, an LSN out of
// sequence) is Corruption naming the offset, never skipped. Format in
// docs/format.md.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/env.h"

namespace vx {

struct WalOptions {
  bool sync_on_append = true;  // see above
  uint64_t first_lsn = 1;      // the LSN of a log that Open creates (none exists)
};

struct WalRecord {
  uint64_t lsn = 0;
  uint16_t type = 0;  // the caller's record kind
  std::span<const uint8_t> payload;
};

// What Open found.
struct WalReplay {
  uint64_t first_lsn = 0;  // the LSN the log starts at (its header's); 0: no log
  uint64_t records = 0;    // replayed
  uint64_t bytes = 0;      // of the log kept, header included
  uint64_t cut_bytes = 0;  // of a torn tail cut off at `bytes` (Read leaves it)
};

class Wal {
 public:
  static constexpr size_t kMaxPayload = 64 << 20;
  using ReplayFn = std::function<Status(const WalRecord&)>;

  // Opens the log at `path` (creating it, at options.first_lsn, when missing),
  // passes each record in order to `replay` (a non-OK status stops the open
  // with it) and cuts a torn tail, leaving the log ready to append.
  static Result<std::unique_ptr<Wal>> Open(Env* env, const std::string& path, const WalOptions& options,
                                           const ReplayFn& replay, WalReplay* found = nullptr);

  // Reading the log at `path` without changing it (a reader beside the
  // process that appends), in two steps so that a reader can hold the file
  // it will read: OpenForRead opens it (nullptr when there is no log); Read
  // passes each whole record of `log` (nullptr: none) to `replay` and stops
  // at a torn tail, which it leaves.
  static Result<std::unique_ptr<File>> OpenForRead(Env* env, const std::string& path);
  static Status Read(File* log, const std::string& path, const ReplayFn& replay, WalReplay* found = nullptr);

  // Appends one record; returns its LSN once it is acknowledged (above).
  // Thread-safe. Payloads above kMaxPayload are refused.
  Result<uint64_t> Append(uint16_t type, std::span<const uint8_t> payload);
  // Append in two steps, for callers whose own order must be the log's:
  // Enqueue gives the record its LSN and queues it without waiting (a
  // caller holding its own lock across it orders its records by it);
  // WaitAcknowledged(lsn) returns once that record, and every one before
  // it, is acknowledged.
  Result<uint64_t> Enqueue(uint16_t type, std::span<const uint8_t> payload);
  Status WaitAcknowledged(uint64_t lsn);
  // Makes every record appended so far durable.
  Status Sync();
  // Empties the log: the next record gets next_lsn(). The new empty log is
  // written beside the old one and renamed over it, so a crash leaves one
  // or the other. Waits for appends in progress.
  Status Reset();

  uint64_t next_lsn() const;
  uint64_t size_bytes() const;
  uint64_t syncs() const;  // fdatasyncs of the log since open (group commit shares them)

 private:
  Wal(Env* env, std::string path, WalOptions options) : env_(env), path_(std::move(path)), options_(options) {}
  // Writes the pending records (and syncs them when `sync`); called with mu_
  // held and no other flush running; unlocks while writing.
  void FlushLocked(std::unique_lock<std::mutex>& lock, bool sync);

  Env* const env_;
  const std::string path_;
  const WalOptions options_;
  std::unique_ptr<File> file_;

  mutable std::mutex mu_;
  std::condition_variable flushed_;
  uint64_t next_lsn_ = 1;
  uint64_t end_ = 0;              // bytes of the file written
  std::vector<uint8_t> pending_;  // encoded records not yet written, the newest
  uint64_t written_lsn_ = 0;      // records up to here are written to the OS
  uint64_t durable_lsn_ = 0;      // and up to here synced
  bool flushing_ = false;
  uint64_t syncs_ = 0;
  Status failed_;
};

}  // namespace vx
