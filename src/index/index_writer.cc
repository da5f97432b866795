#include "index/index_writer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "index/attrs.h"
#include "index/delta_rows.h"
#include "index/keys.h"
#include "index/tombstones.h"
#include "io/paged_file.h"

namespace vx {
namespace {

constexpr char kNothing[] = "; nothing of the batch was applied";

// The writer's reader: the generation the writer writes, replaced by a
// reindex while searches run (a search keeps the generation it started on).
class ServedIndex final : public Index {
 public:
  void Serve(std::shared_ptr<const IndexBase> index) {
    std::lock_guard lock(mu_);
    index_ = std::move(index);
  }
  IndexInfo info() const override { return Get()->info(); }
  Status Search(const float* query, const SearchParams& params, std::vector<SearchResult>* out,
                SearchStats* stats) const override {
    return Get()->Search(query, params, out, stats);
  }
  uint32_t RerankDepth(const SearchParams& params) const override { return Get()->RerankDepth(params); }
  Result<uint64_t> Prewarm() const override { return Get()->Prewarm(); }

 private:
  // A lock held for a pointer copy: uncontended, tens of ns of a search's
  // tens of us.
  std::shared_ptr<const IndexBase> Get() const {
    std::lock_guard lock(mu_);
    return index_;
  }
  mutable std::mutex mu_;
  std::shared_ptr<const IndexBase> index_;
};

}  // namespace

class IndexWriterImpl final : public IndexWriter {
 public:
  IndexWriterImpl(std::unique_ptr<FileLock> lock, const IndexBase& index, const WriterOptions& options,
                  WriterServices services)
      : lock_(std::move(lock)),
        options_(options),
        services_(std::move(services)),
        dim_(index.params_.dim),
        metric_(index.params_.metric),
        schema_(index.params_.attributes) {}

  ~IndexWriterImpl() override {
    cancel_ = true;
    if (background_.joinable()) background_.join();
  }

  // Serves and writes `index` (the generation the manifest names, not
  // replayed): removes the files of a checkpoint that crashed before its
  // commit, replays the WAL, cutting a torn tail.
  Status Attach(std::shared_ptr<IndexBase> index);
  Status Insert(const int64_t* keys, const float* vectors, uint64_t n, const Attributes& attributes) override {
    return Put("insert", keys, vectors, n, attributes, false);
  }
  Status Upsert(const int64_t* keys, const float* vectors, uint64_t n, const Attributes& attributes) override {
    return Put("upsert", keys, vectors, n, attributes, true);
  }
  Status Reindex(const BuildOptions& options) override { return Rebuild(options, false); }
  Status Vacuum(const BuildOptions& options) override { return Rebuild(options, true); }
  Status Delete(const int64_t* keys, uint64_t n) override;
  Status Checkpoint() override;
  bool Contains(int64_t key) const override {
    std::lock_guard lock(mu_);
    if (!stopped_.ok()) return false;
    const std::optional<uint32_t> row = RowOf(key);
    const std::shared_ptr<const WriteState> w = index_->writes();
    return row && !(w->deleted && w->deleted->Contains(*row));
  }
  const Index& reader() const override { return served_; }
  IndexInfo info() const override;

 private:
  Status Put(const char* what, const int64_t* keys, const float* vectors, uint64_t n, const Attributes& attributes,
             bool replace);
  // Reindex (vacuum false) or Vacuum: the live rows as of now into a new
  // generation, built anew or from this one's structure, the writes made
  // meanwhile carried across at its commit.
  Status Rebuild(const BuildOptions& options, bool vacuum);
  // The newest row of `key` (live or deleted), if it has one. With mu_ held.
  std::optional<uint32_t> RowOf(int64_t key) const;
  // The live row of keys[i] for a batch's check, with mu_ held: Busy when a
  // batch in flight writes the key; InvalidArgument when the batch repeats
  // it (seen: the batch's keys so far).
  Result<std::optional<uint32_t>> LiveRow(const std::string& what, const int64_t* keys, uint64_t i,
                                          std::unordered_set<int64_t>* seen) const;
  // Appends a batch's WAL record and, once it is acknowledged, publishes
  // `after` (the writes with the batch applied) and records where its
  // inserted keys went. Called with mu_ held through `lock`, checks done.
  Status Commit(std::unique_lock<std::mutex>& lock, LogRecordType type, std::span<const uint8_t> payload,
                std::shared_ptr<const WriteState> after, std::span<const int64_t> keys, bool inserts);
  std::string GenPath(const std::string& name) const { return manifest_.FilePath(index_->dir_, name); }
  // Deletes the segment files in the generation's directory that the
  // manifest does not name (a checkpoint that failed before its commit).
  Status RemoveUncommittedSegments();
  Status CheckpointLocked();  // with mu_ held and no batch in flight
  // The segments of the writes made since `snap` (a state of index_ that a
  // reindex read) for the new generation `gen`, whose keys file is
  // written: the rows inserted since, live, and the deletes since of rows
  // `snap` holds, by their rows in `gen`. With mu_ held and no batch in
  // flight.
  Result<std::vector<ManifestSegment>> WritesSince(const WriteState& snap, const GenerationWriter& gen,
                                                   uint64_t gen_rows);
  // Waits, with mu_ held through `lock`, until no checkpoint runs, then
  // holds new batches and waits for those in flight: what a checkpoint and
  // a reindex's commit need. EndExclusive lets batches go on.
  void BeginExclusive(std::unique_lock<std::mutex>& lock);
  void EndExclusive();

  // Starts the background reindex once the delta holds options_'s share
  // of its budget, none runs and the last did not fail. With mu_ held.
  void MaybeStartReindex();
  void StartReindex();  // with mu_ held and no reindex running

  std::unique_ptr<FileLock> lock_;
  const WriterOptions options_;
  const WriterServices services_;
  // Of every generation (a reindex keeps them).
  const uint32_t dim_;
  const Metric metric_;
  const AttrSchema schema_;
  std::shared_ptr<IndexBase> index_;  // the generation written, replaced by a reindex under mu_
  ServedIndex served_;
  // A batch checks its keys and appends its WAL record under mu_, so that
  // the log's order is the order of the row numbers it hands out; it waits
  // for the record's fsync without it (batches from several threads share
  // an fsync: group commit), then publishes under it. A checkpoint holds
  // mu_ from when the batches in flight have published until it is done.
  mutable std::mutex mu_;
  std::condition_variable published_;  // in_flight_ fell, or a checkpoint ended
  uint64_t in_flight_ = 0;             // batches between their append and their publish
  bool checkpointing_ = false;         // a checkpoint (or reindex commit) holds batches
  bool reindexing_ = false;            // a reindex is building
  Status stopped_;                     // not OK: a reindex committed and the writer could not serve the new generation
  std::thread background_;             // the automatic reindex, when one was started
  bool background_running_ = false;    // it has not returned yet
  Status background_failed_;           // how the last automatic one failed
  std::atomic<bool> cancel_{false};    // the writer is closing: a background reindex stops
  std::unordered_set<int64_t> pending_;     // the keys of the batches in flight
  std::shared_ptr<const WriteState> last_;  // the writes with every batch appended so far applied
  uint64_t published_lsn_ = 0;              // the batch whose state the reader serves
  Manifest manifest_;                       // as last committed (the reader keeps the one it opened)
  uint64_t folded_ = 0;                     // the last LSN a checkpoint folded into segments
  uint64_t folded_rows_ = 0;                // inserted rows in segments
  std::unique_ptr<Wal> wal_;
  std::vector<uint32_t> by_key_;                    // built rows in key order
  std::unordered_map<int64_t, uint32_t> inserted_;  // inserted rows by key, the newest
};

Status IndexWriterImpl::Attach(std::shared_ptr<IndexBase> index) {
  index_ = std::move(index);
  manifest_ = index_->manifest_;
  VX_RETURN_IF_ERROR(RemoveUncommittedSegments());
  folded_ = index_->params_.checkpoint_lsn;
  folded_rows_ = index_->writes()->delta->rows;
  VX_RETURN_IF_ERROR(index_->ReplayLog([&](const Wal::ReplayFn& replay, WalReplay* found) {
    const WalOptions wal_options{options_.sync_on_append, folded_ + 1};
    VX_ASSIGN_OR_RETURN(wal_, Wal::Open(index_->env_, GenPath(kWalFile), wal_options, replay, found));
    return Status::Ok();
  }));
  last_ = index_->writes();
  published_lsn_ = wal_->next_lsn() - 1;
  const std::vector<int64_t>& keys = index_->keys_;
  by_key_.resize(keys.size());
  std::iota(by_key_.begin(), by_key_.end(), 0u);
  std::sort(by_key_.begin(), by_key_.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  const DeltaView& delta = *last_->delta;
  inserted_.clear();
  for (uint64_t i = 0; i < delta.rows; ++i) inserted_[delta.key(i)] = static_cast<uint32_t>(delta.base_rows + i);
  served_.Serve(index_);
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
  if (auto it = inserted_.find(key); it != inserted_.end()) return it->second;
  const std::vector<int64_t>& keys = index_->keys_;
  const auto it =
      std::lower_bound(by_key_.begin(), by_key_.end(), key, [&](uint32_t row, int64_t k) { return keys[row] < k; });
  if (it == by_key_.end() || keys[*it] != key) return std::nullopt;
  return *it;
}

Result<std::optional<uint32_t>> IndexWriterImpl::LiveRow(const std::string& what, const int64_t* keys, uint64_t i,
                                                         std::unordered_set<int64_t>* seen) const {
  const std::string which =
      what + ": key " + std::to_string(keys[i]) + " (item " + std::to_string(i) + " of the batch)";
  if (!seen->insert(keys[i]).second) return Status::InvalidArgument(which + " repeats in the batch" + kNothing);
  if (pending_.count(keys[i])) return Status::Busy(which + " is being written by a concurrent batch" + kNothing);
  const std::optional<uint32_t> row = RowOf(keys[i]);
  if (row && last_->deleted && last_->deleted->Contains(*row)) return std::optional<uint32_t>();
  return row;
}

Status IndexWriterImpl::Commit(std::unique_lock<std::mutex>& lock, LogRecordType type, std::span<const uint8_t> payload,
                               std::shared_ptr<const WriteState> after, std::span<const int64_t> keys, bool inserts) {
  const uint64_t first_row = last_->rows();
  VX_ASSIGN_OR_RETURN(const uint64_t lsn, wal_->Enqueue(static_cast<uint16_t>(type), payload));
  last_ = after;
  pending_.insert(keys.begin(), keys.end());
  ++in_flight_;
  lock.unlock();
  const Status acked = wal_->WaitAcknowledged(lsn);
  lock.lock();
  if (acked.ok()) {
    // A later batch may have published already: its state includes this one.
    if (lsn > published_lsn_) {
      index_->PublishWrites(std::move(after));
      published_lsn_ = lsn;
    }
    if (inserts) {
      for (size_t i = 0; i < keys.size(); ++i) inserted_[keys[i]] = static_cast<uint32_t>(first_row + i);
    }
  } else {
    // The WAL has stopped (every later append fails with it): checks go
    // back to what was acknowledged.
    last_ = index_->writes();
  }
  for (int64_t key : keys) pending_.erase(key);
  --in_flight_;
  published_.notify_all();
  return acked;
}

Status IndexWriterImpl::Delete(const int64_t* keys, uint64_t n) {
  if (n == 0) return Status::Ok();
  if (keys == nullptr) return Status::InvalidArgument("delete: keys is null");
  if (n > Wal::kMaxPayload / sizeof(uint32_t)) {
    return Status::InvalidArgument("delete: a batch of " + std::to_string(n) + " keys is over the limit of " +
                                   std::to_string(Wal::kMaxPayload / sizeof(uint32_t)) + "; split it");
  }
  std::vector<uint32_t> rows(n);
  std::unordered_set<int64_t> seen;
  std::unique_lock lock(mu_);
  published_.wait(lock, [&] { return !checkpointing_; });
  VX_RETURN_IF_ERROR(stopped_);
  for (uint64_t i = 0; i < n; ++i) {
    VX_ASSIGN_OR_RETURN(const std::optional<uint32_t> row, LiveRow("delete", keys, i, &seen));
    if (!row) {
      const bool deleted = RowOf(keys[i]).has_value();
      return Status::NotFound("delete: key " + std::to_string(keys[i]) + " (item " + std::to_string(i) +
                              " of the batch) " + (deleted ? "is already deleted" : "does not exist") + kNothing);
    }
    rows[i] = *row;
  }
  auto after = std::make_shared<WriteState>(*last_);
  after->deleted = WithDeleted(last_->deleted.get(), rows);
  const auto* payload = reinterpret_cast<const uint8_t*>(rows.data());
  return Commit(lock, LogRecordType::kDelete, {payload, rows.size() * sizeof(uint32_t)}, std::move(after), {keys, n},
                false);
}

Status IndexWriterImpl::Put(const char* what, const int64_t* keys, const float* vectors, uint64_t n,
                            const Attributes& attributes, bool replace) {
  if (n == 0) return Status::Ok();
  if (keys == nullptr || vectors == nullptr)
    return Status::InvalidArgument(std::string(what) + ": keys or vectors is null");
  const uint32_t dim = dim_;
  const Metric metric = metric_;
  const uint64_t row_bytes = sizeof(uint32_t) + sizeof(int64_t) + uint64_t{dim} * sizeof(float);
  if (n > (Wal::kMaxPayload - 8) / row_bytes) {
    return Status::InvalidArgument(std::string(what) + ": a batch of " + std::to_string(n) +
                                   " rows is over the limit of " + std::to_string((Wal::kMaxPayload - 8) / row_bytes) +
                                   " at " + std::to_string(dim) + " dims; split it");
  }
  const AttrSchema& schema = schema_;
  Result<Attributes> attrs = ConformAttributes(attributes, schema, n);
  if (!attrs.ok()) return Status::InvalidArgument(std::string(what) + ": " + attrs.status().message() + kNothing);
  std::string attr_bytes;
  if (!schema.empty()) {
    VX_ASSIGN_OR_RETURN(attr_bytes, AttrIndex::Serialize(*attrs, {}));
  }
  if (attr_bytes.size() > Wal::kMaxPayload - 8 - n * row_bytes) {
    return Status::InvalidArgument(std::string(what) + ": a batch of " + std::to_string(n) + " rows with " +
                                   std::to_string(attr_bytes.size()) + " bytes of attributes is over the WAL's " +
                                   std::to_string(Wal::kMaxPayload) + "-byte record; split it");
  }
  // The record: n, old rows, keys, vectors (unit length under cosine), the
  // attributes (when the index has columns).
  std::vector<uint8_t> payload(8 + n * row_bytes + attr_bytes.size());
  std::memcpy(payload.data() + 8 + n * row_bytes, attr_bytes.data(), attr_bytes.size());
  std::memcpy(payload.data(), &n, 8);
  auto* old = reinterpret_cast<uint32_t*>(payload.data() + 8);
  std::memcpy(payload.data() + 8 + n * sizeof(uint32_t), keys, n * sizeof(int64_t));
  float* v = reinterpret_cast<float*>(payload.data() + 8 + n * (sizeof(uint32_t) + sizeof(int64_t)));
  for (uint64_t i = 0; i < n; ++i) {
    const float* x = vectors + i * dim;
    double norm = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      if (!std::isfinite(x[j])) {
        return Status::InvalidArgument(std::string(what) + ": key " + std::to_string(keys[i]) + " (item " +
                                       std::to_string(i) + " of the batch): component " + std::to_string(j) + " is " +
                                       (std::isnan(x[j]) ? "NaN" : "Inf") + kNothing);
      }
      norm += double{x[j]} * x[j];
    }
    const double scale = metric == Metric::kCosine ? 1 / std::sqrt(norm) : 1;
    if (metric == Metric::kCosine && norm == 0) {
      return Status::InvalidArgument(std::string(what) + ": key " + std::to_string(keys[i]) + " (item " +
                                     std::to_string(i) +
                                     " of the batch) is a zero vector; cosine distance is undefined for it" + kNothing);
    }
    for (uint32_t j = 0; j < dim; ++j) v[i * dim + j] = static_cast<float>(x[j] * scale);
  }
  const uint64_t labels = schema.empty() ? 0 : [&] {
    uint64_t count = 0;
    for (const AttributeColumn& c : attrs->columns) count += c.labels.size();
    return count;
  }();
  std::unordered_set<int64_t> seen;
  std::unique_lock lock(mu_);
  // A batch that would take the inserted rows past their budget waits for
  // a reindex to fold them in (starting one when automatic reindexes are
  // on), and is refused when none can.
  for (;;) {
    published_.wait(lock, [&] { return !checkpointing_; });
    VX_RETURN_IF_ERROR(stopped_);
    const DeltaView& delta = *last_->delta;
    const auto bytes_with = [&](uint64_t rows, uint64_t label_count) {
      return (rows + n + DeltaChunk::kRows - 1) / DeltaChunk::kRows * delta.chunk_bytes() +
             (label_count + labels) * sizeof(int64_t);
    };
    const uint64_t need = bytes_with(delta.rows, delta.label_count);
    if (need <= options_.delta_memory_bytes) break;
    const bool reindex_coming =
        reindexing_ || background_running_ || (options_.auto_reindex_at > 0 && background_failed_.ok());
    if (bytes_with(0, 0) > options_.delta_memory_bytes || !reindex_coming) {
      const std::string why = !background_failed_.ok()
                                  ? "; the last automatic reindex failed (" + background_failed_.ToString() +
                                        "): reindex the index to fold them in, or raise it"
                                  : "; reindex the index to fold them in, or raise it";
      return Status::ResourceExhausted(std::string(what) + ": " + std::to_string(n) +
                                       " more rows would take the inserted rows (" + std::to_string(delta.rows) +
                                       " now) to " + std::to_string(need >> 20) + " MiB of RAM, over the writer's " +
                                       std::to_string(options_.delta_memory_bytes >> 20) +
                                       " MiB (WriterOptions::delta_memory_bytes)" + why + kNothing);
    }
    if (!reindexing_ && !background_running_) StartReindex();
    published_.wait(lock, [&] { return !reindexing_ && !background_running_; });
  }
  if (last_->rows() + n >= kNoRow) {
    return Status::ResourceExhausted(std::string(what) + ": " + std::to_string(n) + " rows would take the index past " +
                                     std::to_string(kNoRow - 1) + " rows");
  }
  const DeltaView& delta = *last_->delta;
  std::vector<uint32_t> replaced;
  for (uint64_t i = 0; i < n; ++i) {
    VX_ASSIGN_OR_RETURN(const std::optional<uint32_t> row, LiveRow(what, keys, i, &seen));
    if (row && !replace) {
      return Status::InvalidArgument(std::string(what) + ": key " + std::to_string(keys[i]) + " (item " +
                                     std::to_string(i) + " of the batch) exists (upsert replaces it)" + kNothing);
    }
    old[i] = row ? *row : kNoRow;
    if (row) replaced.push_back(*row);
  }
  auto after = std::make_shared<WriteState>(*last_);
  if (!replaced.empty()) after->deleted = WithDeleted(last_->deleted.get(), replaced);
  after->delta = delta.Append(keys, v, n, schema.empty() ? nullptr : &*attrs);
  VX_RETURN_IF_ERROR(Commit(lock, LogRecordType::kPut, payload, std::move(after), {keys, n}, true));
  MaybeStartReindex();
  return Status::Ok();
}

void IndexWriterImpl::MaybeStartReindex() {
  if (options_.auto_reindex_at <= 0 || background_running_ || reindexing_ || !background_failed_.ok()) return;
  if (double(last_->delta->bytes()) >= options_.auto_reindex_at * double(options_.delta_memory_bytes)) StartReindex();
}

void IndexWriterImpl::StartReindex() {
  if (background_.joinable()) background_.join();  // it has returned: only its exit is left
  background_running_ = true;
  background_ = std::thread([this] {
    BuildOptions o;
    o.threads = options_.auto_reindex_threads;
    o.cancel = &cancel_;
    const Status s = Vacuum(o);  // the merge: cheaper than a build anew
    std::lock_guard lock(mu_);
    background_failed_ = s;
    background_running_ = false;
    published_.notify_all();
  });
}

// A checkpoint writes the rows inserted since the last one as a new
// segment and the tombstones whole as another, commits the manifest naming
// them (and the LSN it folds) in place of the last tombstones, then empties
// the WAL. A crash before the commit leaves the old manifest and the whole
// WAL (the new files are removed at the next open); after it, replay skips
// the records the segments hold.
Status IndexWriterImpl::Checkpoint() {
  std::unique_lock lock(mu_);
  BeginExclusive(lock);
  const Status s = stopped_.ok() ? CheckpointLocked() : stopped_;
  EndExclusive();
  return s;
}

void IndexWriterImpl::BeginExclusive(std::unique_lock<std::mutex>& lock) {
  published_.wait(lock, [&] { return !checkpointing_; });  // one at a time
  checkpointing_ = true;
  published_.wait(lock, [&] { return in_flight_ == 0; });  // every record in the WAL is published
}

void IndexWriterImpl::EndExclusive() {
  checkpointing_ = false;
  published_.notify_all();
}

// A reindex builds the new generation from the live rows of the writes as
// of its start (snap), while batches, checkpoints and searches go on. At
// the commit it holds new batches, writes the ones made since `snap` into
// the new generation as a rows segment and a tombstones segment (so the
// manifest commit that replaces the index carries every acknowledged
// write), then serves and writes the new generation. A crash before the
// commit leaves the old generation with its WAL; after it, the new one
// with the segments.
Status IndexWriterImpl::Rebuild(const BuildOptions& options, bool vacuum) {
  std::shared_ptr<IndexBase> base;
  std::shared_ptr<const WriteState> snap;
  uint64_t generation;
  {
    std::unique_lock lock(mu_);
    VX_RETURN_IF_ERROR(stopped_);
    if (reindexing_) return Status::Busy(index_->dir_ + ": a reindex of it is running");
    reindexing_ = true;    // before the wait below lets another in
    BeginExclusive(lock);  // snap: every acknowledged batch, none in flight
    base = index_;
    snap = last_;
    generation = manifest_.generation;
    EndExclusive();
  }
  const IndexInfo& info = base->info();
  BuildOptions o = options;
  if (o.env == nullptr) o.env = base->env_;
  o.type = info.type;
  o.metric = info.metric;
  o.quant = info.quant;
  o.storage = info.storage;
  o.page_size = info.page_size;
  o.m = info.m;
  o.ef_construction = info.ef_construction;
  o.lists = info.lists;
  o.replicas = info.replicas;
  bool holding = false;  // the commit step holds batches (checkpointing_)
  BuildCommit commit;
  commit.segments = [&](const GenerationWriter& gen) -> Result<std::vector<ManifestSegment>> {
    std::unique_lock lock(mu_);
    BeginExclusive(lock);
    holding = true;
    return WritesSince(*snap, gen, o.keys.size());
  };
  Result<std::unique_ptr<VectorSource>> source =
      LiveRowsOf(*base, snap, &o.keys, &o.attributes, vacuum ? &commit.previous_rows : nullptr);
  if (vacuum) {
    commit.previous = base.get();
    for (uint32_t& row : commit.previous_rows) {
      if (row >= info.count) row = kNoRow;  // inserted: not in the structure
    }
  }
  Status s = source.ok() ? services_.build(**source, o, commit) : source.status();
  std::unique_lock lock(mu_);
  reindexing_ = false;
  if (!holding) {
    published_.notify_all();
    return s;
  }
  // The manifest names the new generation once the commit's rename landed,
  // even when the commit then failed.
  Result<Manifest> now = ReadManifest(index_->env_, index_->dir_);
  Status served = now.status();
  if (now.ok() && now->generation == generation) {
    served = Status::Ok();  // not committed: the old generation, its WAL whole, goes on
  } else if (now.ok()) {
    Result<std::unique_ptr<IndexBase>> opened = services_.open();
    served = opened.ok() ? Attach(std::move(*opened)) : opened.status();
    if (served.ok()) {
      s = Status::Ok();
      background_failed_ = Status::Ok();  // automatic reindexes may run again
    }
  }
  if (!served.ok()) {
    stopped_ = Status::IOError(index_->dir_ + ": the reindex's commit left a generation this writer could not serve (" +
                               served.ToString() + "); writes stop: open the index again");
    s = stopped_;
  }
  EndExclusive();
  return s;
}

Result<std::vector<ManifestSegment>> IndexWriterImpl::WritesSince(const WriteState& snap, const GenerationWriter& gen,
                                                                  uint64_t gen_rows) {
  const WriteState& now = *last_;
  const DeltaView& delta = *now.delta;
  const uint64_t built = delta.base_rows;
  // Rows inserted since, and not deleted since.
  std::vector<uint32_t> carried;  // delta slots
  for (uint64_t row = snap.rows(); row < now.rows(); ++row) {
    if (!(now.deleted && now.deleted->Contains(static_cast<uint32_t>(row))))
      carried.push_back(static_cast<uint32_t>(row - built));
  }
  // Rows of snap deleted since (upserts' old rows among them), by key.
  std::unordered_map<int64_t, uint32_t> gone;
  if (now.deleted) {
    for (uint32_t row : now.deleted->RowsNotIn(snap.deleted.get())) {
      if (row >= snap.rows()) continue;  // inserted since: not in the new generation
      gone.emplace(row < built ? index_->keys_[row] : delta.key(row - built), kNoRow);
    }
  }
  std::vector<ManifestSegment> segments;
  const auto add = [&](const char* kind, const std::string& bytes) -> Status {
    const uint64_t id = segments.size() + 1;
    const std::string name = "seg-" + std::to_string(id) + "-" + kind;
    VX_RETURN_IF_ERROR(WriteWholeFile(index_->env_, gen.Path(name), bytes.data(), bytes.size()));
    VX_ASSIGN_OR_RETURN(ManifestFile f, DescribeFile(index_->env_, gen.dir(), name));
    segments.push_back(ManifestSegment{id, kind, {std::move(f)}});
    return Status::Ok();
  };
  if (!carried.empty()) {
    std::vector<int64_t> keys;
    std::vector<float> vectors;
    for (uint32_t i : carried) {
      keys.push_back(delta.key(i));
      vectors.insert(vectors.end(), delta.vector(i), delta.vector(i) + dim_);
    }
    Attributes attrs;
    if (!schema_.empty()) {
      const uint32_t from = carried.front();
      const Attributes since = delta.Attrs(from, delta.rows);
      std::vector<uint32_t> at(carried.begin(), carried.end());
      for (uint32_t& i : at) i -= from;
      attrs.columns.resize(since.columns.size());
      for (size_t c = 0; c < since.columns.size(); ++c) AppendRows(since.columns[c], at, &attrs.columns[c]);
    }
    DeltaView fresh;
    fresh.base_rows = gen_rows;
    fresh.dim = dim_;
    fresh.schema = schema_;
    const std::shared_ptr<const DeltaView> rows =
        fresh.Append(keys.data(), vectors.data(), keys.size(), schema_.empty() ? nullptr : &attrs);
    VX_RETURN_IF_ERROR(add(kRowsKind, rows->Serialize(0)));
  }
  if (!gone.empty()) {
    // Their rows in the new generation, from its keys file (in its row order).
    VX_ASSIGN_OR_RETURN(std::unique_ptr<File> f, index_->env_->OpenFile(gen.Path(kKeysFile), OpenOptions{}));
    std::vector<int64_t> block(1 << 16);
    uint64_t found = 0;
    for (uint64_t first = 0; first < gen_rows; first += block.size()) {
      const size_t n = std::min<uint64_t>(block.size(), gen_rows - first);
      size_t got = 0;
      VX_RETURN_IF_ERROR(f->Read(first * sizeof(int64_t), n * sizeof(int64_t), block.data(), &got));
      if (got != n * sizeof(int64_t)) return Status::IOError(gen.Path(kKeysFile) + ": short read");
      for (size_t i = 0; i < n; ++i) {
        if (auto it = gone.find(block[i]); it != gone.end()) {
          it->second = static_cast<uint32_t>(first + i);
          ++found;
        }
      }
    }
    if (found != gone.size()) {
      return Status::Corruption(gen.Path(kKeysFile) + ": holds " + std::to_string(found) + " of the " +
                                std::to_string(gone.size()) + " keys deleted during the reindex");
    }
    std::vector<uint32_t> rows;
    for (const auto& [key, row] : gone) rows.push_back(row);
    VX_RETURN_IF_ERROR(add(kTombstonesKind, WithDeleted(nullptr, rows)->Serialize(gen_rows + carried.size())));
  }
  return segments;
}

Status IndexWriterImpl::CheckpointLocked() {
  VX_RETURN_IF_ERROR(wal_->Sync());
  const uint64_t lsn = wal_->next_lsn() - 1;
  if (lsn == folded_) return Status::Ok();
  Env* env = index_->env_;
  const std::string gen_dir = GenerationDir(index_->dir_, manifest_.generation);
  Manifest m = manifest_;
  uint64_t id = m.segments.empty() ? 0 : m.segments.back().id;
  std::string replaced;  // the tombstones file the new segment replaces
  std::erase_if(m.segments, [&](const ManifestSegment& s) {
    if (s.kind != kTombstonesKind) return false;
    replaced = s.files.at(0).name;
    return true;
  });
  const auto add_segment = [&](const char* kind, const std::string& bytes) -> Status {
    const std::string name = "seg-" + std::to_string(++id) + "-" + kind;
    VX_RETURN_IF_ERROR(WriteWholeFile(env, gen_dir + "/" + name, bytes.data(), bytes.size()));
    VX_ASSIGN_OR_RETURN(ManifestFile f, DescribeFile(env, gen_dir, name));
    m.segments.push_back(ManifestSegment{id, kind, {std::move(f)}});
    return Status::Ok();
  };
  const WriteState& w = *last_;
  if (w.delta->rows > folded_rows_) VX_RETURN_IF_ERROR(add_segment(kRowsKind, w.delta->Serialize(folded_rows_)));
  if (w.deleted && w.deleted->size() > 0)
    VX_RETURN_IF_ERROR(add_segment(kTombstonesKind, w.deleted->Serialize(w.rows())));
  VX_RETURN_IF_ERROR(env->SyncDir(gen_dir));
  IndexParams params = index_->params_;
  params.checkpoint_lsn = lsn;
  params.ToManifest(&m.params);
  VX_RETURN_IF_ERROR(WriteManifest(env, index_->dir_, m));
  manifest_ = std::move(m);
  folded_ = lsn;
  folded_rows_ = w.delta->rows;
  VX_RETURN_IF_ERROR(wal_->Reset());
  // Best effort: the next writer's open removes it.
  if (!replaced.empty()) static_cast<void>(env->DeleteFile(gen_dir + "/" + replaced));
  return Status::Ok();
}

IndexInfo IndexWriterImpl::info() const {
  std::lock_guard lock(mu_);
  IndexInfo info = index_->info();
  const std::shared_ptr<const WriteState> w = index_->writes();
  info.deleted = w->deleted ? w->deleted->size() : 0;
  info.inserted = w->delta->rows;
  info.write_bytes = (w->deleted ? w->deleted->bytes() : 0) + w->delta->bytes();
  info.wal_bytes = wal_->size_bytes();
  info.segments = DescribeSegments(manifest_);
  return info;
}

Result<std::unique_ptr<IndexWriter>> OpenIndexWriter(std::unique_ptr<FileLock> lock, std::unique_ptr<IndexBase> index,
                                                     const WriterOptions& options, WriterServices services) {
  std::shared_ptr<IndexBase> first(std::move(index));
  auto writer = std::make_unique<IndexWriterImpl>(std::move(lock), *first, options, std::move(services));
  VX_RETURN_IF_ERROR(writer->Attach(std::move(first)));
  return std::unique_ptr<IndexWriter>(std::move(writer));
}

}  // namespace vx
