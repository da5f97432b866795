#include "index/index_writer.h"

#include <algorithm>
#include <condition_variable>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_set>

#include "index/tombstones.h"
#include "io/paged_file.h"

namespace vx {

class IndexWriterImpl final : public IndexWriter {
 public:
  IndexWriterImpl(std::unique_ptr<FileLock> lock, std::unique_ptr<IndexBase> index)
      : lock_(std::move(lock)), index_(std::move(index)), manifest_(index_->manifest_) {}

  Status Open(const WriterOptions& options);
  Status Insert(const int64_t*, const float*, uint64_t) override { return NotYet("insert"); }
  Status Upsert(const int64_t*, const float*, uint64_t) override { return NotYet("upsert"); }
  Status Vacuum() override { return NotYet("vacuum"); }
  Status Delete(const int64_t* keys, uint64_t n) override;
  Status Checkpoint() override;
  bool Contains(int64_t key) const override {
    const std::optional<uint32_t> row = RowOf(key);
    const std::shared_ptr<const Tombstones> deleted = index_->deleted();
    return row && !(deleted && deleted->Contains(*row));
  }
  const Index& reader() const override { return *index_; }
  IndexInfo info() const override;

 private:
  static Status NotYet(const char* what) {
    return Status::NotSupported(std::string(what) + " into an existing index is not implemented yet (delete is)");
  }
  // The row of `key`, if the index has one.
  std::optional<uint32_t> RowOf(int64_t key) const;
  std::string GenPath(const std::string& name) const { return manifest_.FilePath(index_->dir_, name); }
  // Deletes the segment files in the generation's directory that the
  // manifest does not name (a checkpoint that failed before its commit).
  Status RemoveUncommittedSegments();
  Status CheckpointLocked();  // with mu_ held and no delete in flight

  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<IndexBase> index_;
  // Deletes check and reserve their rows under mu_, append to the WAL
  // without it (batches from several threads share an fsync: group
  // commit), then publish under it. A checkpoint holds mu_ from when the
  // appends in flight have published until it is done.
  mutable std::mutex mu_;
  std::condition_variable published_;     // in_flight_ fell, or a checkpoint ended
  uint64_t in_flight_ = 0;                // deletes between their check and their publish
  bool checkpointing_ = false;            // a checkpoint waits for in_flight_ to reach 0
  std::unordered_set<uint32_t> pending_;  // the rows of the deletes in flight
  Manifest manifest_;                     // as last committed (the reader keeps the one it opened)
  uint64_t folded_ = 0;                   // the last LSN a checkpoint folded into segments
  std::unique_ptr<Wal> wal_;
  std::vector<uint32_t> by_key_;  // rows in key order
};

Status IndexWriterImpl::Open(const WriterOptions& options) {
  VX_RETURN_IF_ERROR(RemoveUncommittedSegments());
  folded_ = index_->params_.checkpoint_lsn;
  VX_RETURN_IF_ERROR(index_->ReplayLog([&](const Wal::ReplayFn& replay, WalReplay* found) {
    const WalOptions wal_options{options.sync_on_append, folded_ + 1};
    VX_ASSIGN_OR_RETURN(wal_, Wal::Open(index_->env_, GenPath(kWalFile), wal_options, replay, found));
    return Status::Ok();
  }));
  const std::vector<int64_t>& keys = index_->keys_;
  by_key_.resize(keys.size());
  std::iota(by_key_.begin(), by_key_.end(), 0u);
  std::sort(by_key_.begin(), by_key_.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return Status::Ok();
}

Status IndexWriterImpl::RemoveUncommittedSegments() {
  std::set<std::string> named;
  for (const ManifestFile& f : manifest_.AllFiles()) named.insert(f.name);
  const std::string gen_dir = GenerationDir(index_->dir_, manifest_.generation);
  VX_ASSIGN_OR_RETURN(const std::vector<std::string> names, index_->env_->ListDir(gen_dir));
  for (const std::string& name : names) {
    if (name.starts_with("seg-") && !named.count(name))
      VX_RETURN_IF_ERROR(index_->env_->DeleteFile(gen_dir + "/" + name));
  }
  return Status::Ok();
}

std::optional<uint32_t> IndexWriterImpl::RowOf(int64_t key) const {
  const std::vector<int64_t>& keys = index_->keys_;
  const auto it =
      std::lower_bound(by_key_.begin(), by_key_.end(), key, [&](uint32_t row, int64_t k) { return keys[row] < k; });
  if (it == by_key_.end() || keys[*it] != key) return std::nullopt;
  return *it;
}

Status IndexWriterImpl::Delete(const int64_t* keys, uint64_t n) {
  if (n == 0) return Status::Ok();
  if (keys == nullptr) return Status::InvalidArgument("delete: keys is null");
  if (n > Wal::kMaxPayload / sizeof(uint32_t)) {
    return Status::InvalidArgument("delete: a batch of " + std::to_string(n) + " keys is over the limit of " +
                                   std::to_string(Wal::kMaxPayload / sizeof(uint32_t)) + "; split it");
  }
  std::vector<uint32_t> rows(n);
  {
    std::unique_lock lock(mu_);
    published_.wait(lock, [&] { return !checkpointing_; });
    const std::shared_ptr<const Tombstones> before = index_->deleted();
    for (uint64_t i = 0; i < n; ++i) {
      const std::optional<uint32_t> row = RowOf(keys[i]);
      const std::string which =
          "delete: key " + std::to_string(keys[i]) + " (item " + std::to_string(i) + " of the batch)";
      if (!row) return Status::NotFound(which + " does not exist; nothing was deleted");
      if (before && before->Contains(*row)) return Status::NotFound(which + " is already deleted; nothing was deleted");
      if (pending_.count(*row)) {
        return Status::Busy(which + " is being deleted by a concurrent batch; nothing was deleted");
      }
      rows[i] = *row;
    }
    std::vector<uint32_t> sorted = rows;
    std::sort(sorted.begin(), sorted.end());
    if (auto it = std::adjacent_find(sorted.begin(), sorted.end()); it != sorted.end()) {
      return Status::InvalidArgument("delete: key " + std::to_string(index_->keys_[*it]) +
                                     " repeats in the batch; nothing was deleted");
    }
    pending_.insert(rows.begin(), rows.end());
    ++in_flight_;
  }
  const auto* payload = reinterpret_cast<const uint8_t*>(rows.data());
  const Status appended =
      wal_->Append(static_cast<uint16_t>(LogRecordType::kDelete), {payload, rows.size() * sizeof(uint32_t)}).status();
  std::lock_guard lock(mu_);
  if (appended.ok()) {
    const std::shared_ptr<const Tombstones> before = index_->deleted();
    auto after = before ? std::make_shared<Tombstones>(*before) : std::make_shared<Tombstones>();
    after->Add(rows);
    index_->PublishDeleted(std::move(after));
  }
  for (uint32_t row : rows) pending_.erase(row);
  --in_flight_;
  published_.notify_all();
  return appended;
}

// A checkpoint writes the tombstones whole as a new segment, commits the
// manifest naming it (and the LSN it folds) in place of the last one, then
// empties the WAL. A crash before the commit leaves the old manifest and the
// whole WAL (the new file is removed at the next open); after it, replay
// skips the records the segment holds.
Status IndexWriterImpl::Checkpoint() {
  std::unique_lock lock(mu_);
  published_.wait(lock, [&] { return !checkpointing_; });  // one checkpoint at a time
  checkpointing_ = true;
  published_.wait(lock, [&] { return in_flight_ == 0; });  // every record in the WAL is published
  const Status s = CheckpointLocked();
  checkpointing_ = false;
  published_.notify_all();
  return s;
}

Status IndexWriterImpl::CheckpointLocked() {
  VX_RETURN_IF_ERROR(wal_->Sync());
  const uint64_t lsn = wal_->next_lsn() - 1;
  if (lsn == folded_) return Status::Ok();
  Env* env = index_->env_;
  const std::string gen_dir = GenerationDir(index_->dir_, manifest_.generation);
  Manifest m = manifest_;
  const uint64_t id = (m.segments.empty() ? 0 : m.segments.back().id) + 1;
  std::string replaced;  // the tombstones file the new segment replaces
  std::erase_if(m.segments, [&](const ManifestSegment& s) {
    if (s.kind != kTombstonesKind) return false;
    replaced = s.files.at(0).name;
    return true;
  });
  if (const std::shared_ptr<const Tombstones> deleted = index_->deleted()) {
    const std::string name = "seg-" + std::to_string(id) + "-" + kTombstonesKind;
    const std::string bytes = deleted->Serialize(index_->params_.count);
    VX_RETURN_IF_ERROR(WriteWholeFile(env, gen_dir + "/" + name, bytes.data(), bytes.size()));
    VX_RETURN_IF_ERROR(env->SyncDir(gen_dir));
    VX_ASSIGN_OR_RETURN(ManifestFile f, DescribeFile(env, gen_dir, name));
    m.segments.push_back(ManifestSegment{id, kTombstonesKind, {std::move(f)}});
  }
  IndexParams params = index_->params_;
  params.checkpoint_lsn = lsn;
  params.ToManifest(&m.params);
  VX_RETURN_IF_ERROR(WriteManifest(env, index_->dir_, m));
  manifest_ = std::move(m);
  folded_ = lsn;
  VX_RETURN_IF_ERROR(wal_->Reset());
  // Best effort: the next writer's open removes it.
  if (!replaced.empty()) static_cast<void>(env->DeleteFile(gen_dir + "/" + replaced));
  return Status::Ok();
}

IndexInfo IndexWriterImpl::info() const {
  std::lock_guard lock(mu_);
  IndexInfo info = index_->info();
  const std::shared_ptr<const Tombstones> deleted = index_->deleted();
  info.deleted = deleted ? deleted->size() : 0;
  info.wal_bytes = wal_->size_bytes();
  info.segments = DescribeSegments(manifest_);
  return info;
}

Result<std::unique_ptr<IndexWriter>> OpenIndexWriter(std::unique_ptr<FileLock> lock, std::unique_ptr<IndexBase> index,
                                                     const WriterOptions& options) {
  auto writer = std::make_unique<IndexWriterImpl>(std::move(lock), std::move(index));
  VX_RETURN_IF_ERROR(writer->Open(options));
  return std::unique_ptr<IndexWriter>(std::move(writer));
}

}  // namespace vx
