#include "index/index_base.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "core/distance.h"
#include "core/f16.h"
#include "core/query.h"
#include "index/attrs.h"
#include "index/delta_rows.h"
#include "index/keys.h"
#include "index/tombstones.h"
#include "io/paged_file.h"

namespace vx {

Result<std::unique_ptr<Index>> IndexBase::Open(std::unique_ptr<IndexBase> index, const std::string& dir,
                                               const Manifest& m, const IndexOptions& o, const IndexTypeOps& ops,
                                               uint32_t format) {
  VX_RETURN_IF_ERROR(index->OpenShared(dir, m, o, ops, format));
  VX_RETURN_IF_ERROR(index->LoadTypeFiles(m));
  return std::unique_ptr<Index>(std::move(index));
}

Status IndexBase::OpenShared(const std::string& dir, const Manifest& m, const IndexOptions& o, const IndexTypeOps& ops,
                             uint32_t format) {
  env_ = o.env ? o.env : DefaultEnv();
  dir_ = dir;
  manifest_ = m;
  VX_RETURN_IF_ERROR(CheckFiles(env_, dir, m, /*full=*/false));
  VX_ASSIGN_OR_RETURN(params_, IndexParams::FromManifest(m, dir, ops.name, format));
  info_.type = ops.type;
  info_.quant = params_.quant;
  info_.quant_choice = params_.quant_choice;
  info_.metric = params_.metric;
  info_.storage = params_.storage;
  info_.count = params_.count;
  info_.dim = params_.dim;
  info_.page_size = params_.page_size;
  info_.generation = m.generation;
  // First of the files: a checkpoint deletes the segment it replaces, so
  // the time between reading the manifest and reading its segment is the
  // time an open can lose the race (and retry).
  VX_RETURN_IF_ERROR(LoadSegments());
  VX_ASSIGN_OR_RETURN(vlayout_, VectorLayout::Make(params_.page_size, params_.dim, params_.storage));
  if (vlayout_.page_size != params_.page_size) return Status::Corruption(dir + "/MANIFEST: page size below one vector");
  VX_ASSIGN_OR_RETURN(const ManifestFile structure, ManifestEntry(m, ops.structure_file, dir));
  VX_ASSIGN_OR_RETURN(const ManifestFile vectors, ManifestEntry(m, kVectorsFile, dir));
  info_.structure_bytes = structure.size;
  info_.vector_bytes = vectors.size;

  VX_ASSIGN_OR_RETURN(const std::string qbytes, ReadResident(kQuantizerFile));
  VX_ASSIGN_OR_RETURN(quantizer_, Quantizer::Deserialize(qbytes));
  if (quantizer_->dim() != params_.dim)
    return Status::Corruption(FilePath(kQuantizerFile) + ": dimension differs from the manifest");
  VX_ASSIGN_OR_RETURN(const std::string kbytes, ReadResident(kKeysFile));
  if (kbytes.size() != params_.count * sizeof(int64_t)) {
    return Status::Corruption(FilePath(kKeysFile) + ": " + std::to_string(kbytes.size()) + " bytes for " +
                              std::to_string(params_.count) + " rows");
  }
  keys_.resize(params_.count);
  std::memcpy(keys_.data(), kbytes.data(), kbytes.size());
  info_.resident_bytes += keys_.size() * sizeof(int64_t);
  // Attributes: the manifest names their columns and lists their file.
  if (!params_.attributes.empty() ||
      std::any_of(m.files.begin(), m.files.end(), [](const ManifestFile& f) { return f.name == kAttrsFile; })) {
    VX_ASSIGN_OR_RETURN(const std::string abytes, ReadResident(kAttrsFile));
    VX_ASSIGN_OR_RETURN(attrs_, AttrIndex::Load(abytes, params_.count, FilePath(kAttrsFile)));
    if (attrs_->schema() != params_.attributes) {
      return Status::Corruption(FilePath(kAttrsFile) + ": its columns (" + AttributeSchema(attrs_->schema()) +
                                ") are not the manifest's (" + AttributeSchema(params_.attributes) + ")");
    }
    info_.attributes = attrs_->schema();
    info_.attribute_bytes = attrs_->bytes();
    info_.resident_bytes += attrs_->bytes();
  }
  VX_ASSIGN_OR_RETURN(
      pages_, IndexPages::Open(
                  env_, {FilePath(ops.structure_file), ops.structure_page, m.PageBindingOf(ops.structure_file)},
                  {FilePath(kVectorsFile), PageType::kVector, m.PageBindingOf(kVectorsFile)}, params_.page_size, o));
  return CrossCheck();
}

std::vector<SegmentInfo> DescribeSegments(const Manifest& m) {
  std::vector<SegmentInfo> out;
  for (const ManifestSegment& s : m.segments) {
    SegmentInfo si{s.id, s.kind, 0};
    for (const ManifestFile& f : s.files) si.bytes += f.size;
    out.push_back(std::move(si));
  }
  return out;
}

uint64_t WriteState::rows() const { return delta->base_rows + delta->rows; }

Status IndexBase::LoadSegments() {
  info_.segments = DescribeSegments(manifest_);
  auto s = std::make_shared<WriteState>();
  auto delta = std::make_shared<DeltaView>();
  delta->base_rows = params_.count;
  delta->dim = params_.dim;
  delta->schema = params_.attributes;
  s->delta = delta;
  // Rows segments in order, then the tombstones (of base and inserted rows).
  const ManifestSegment* tombstones = nullptr;
  for (const ManifestSegment& seg : manifest_.segments) {
    const bool rows = seg.kind == kRowsKind, dead = seg.kind == kTombstonesKind;
    if ((!rows && !dead) || seg.files.size() != 1) {
      return Status::NotSupported(dir_ + "/MANIFEST: segment " + std::to_string(seg.id) + " of kind '" + seg.kind +
                                  "' with " + std::to_string(seg.files.size()) +
                                  " files is not one this build of vx reads");
    }
    if (dead && tombstones != nullptr) return Status::Corruption(dir_ + "/MANIFEST: more than one tombstones segment");
    if (dead) {
      tombstones = &seg;
      continue;
    }
    const std::string path = FilePath(seg.files[0].name);
    VX_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(env_, path, seg.files[0].checksum));
    VX_ASSIGN_OR_RETURN(s->delta, s->delta->AppendFile(bytes, path));
  }
  if (tombstones != nullptr) {
    const std::string path = FilePath(tombstones->files[0].name);
    VX_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(env_, path, tombstones->files[0].checksum));
    VX_ASSIGN_OR_RETURN(s->deleted, Tombstones::Deserialize(bytes, s->rows(), path));
  }
  CountWrites(*s);
  PublishWrites(std::move(s));
  return Status::Ok();
}

IndexBase::IndexBase() = default;
IndexBase::~IndexBase() = default;

template <class Score>
Status IndexBase::MergeInserted(const float* query, uint32_t k, const Score& score, std::vector<SearchResult>* out,
                                SearchStats* stats) const {
  thread_local QueryVector q;
  thread_local TopK top(1);
  VX_RETURN_IF_ERROR(q.Prepare(info_.metric, query, info_.dim));
  top.Reset(k);
  for (const SearchResult& r : *out) top.Push(r.distance, r.key);
  const uint64_t scanned = score(q.data(), &top);
  if (stats != nullptr) stats->delta_rows_scanned += scanned;
  out->clear();
  for (const Neighbor& nb : top.Sorted()) out->push_back(SearchResult{nb.id, nb.dist});
  return Status::Ok();
}

Status IndexBase::Search(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                         SearchStats* stats) const {
  if (p.filter != nullptr) return SearchFiltered(query, p, out, stats);
  if (!any_writes_.load(std::memory_order_acquire)) return SearchChecked(query, p, nullptr, out, stats);
  const std::shared_ptr<const WriteState> w = writes();
  VX_RETURN_IF_ERROR(SearchChecked(query, p, w->deleted.get(), out, stats));
  if (w->delta->rows == 0) return Status::Ok();
  return MergeInserted(
      query, p.k, [&](const float* q, TopK* top) { return w->delta->Search(info_.metric, q, w->deleted.get(), top); },
      out, stats);
}

// The plan: the rows the filter matches, less the deleted, counted
// exactly; few enough (ScanLimit), they are scanned; else the index's walk
// admits only them. The walk widens itself until it has k (HNSW routes
// through unmatched nodes until ef_search matches are in its list; IVF
// scans further lists), and its probes start scaled by 1 / selectivity so
// that the lists scanned hold as many matching rows as an unfiltered
// search's would. A walk that still finds fewer than min(k, matches) (a
// graph region it cannot reach) falls back to the scan: a search always
// returns min(k, matches) rows. Rows inserted since the build are matched
// by their values and scored exactly beside the plan (which sees only the
// built rows).
Status IndexBase::SearchFiltered(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                                 SearchStats* stats) const {
  out->clear();
  if (p.k == 0) return Status::InvalidArgument("k must be at least 1");
  if (attrs_ == nullptr) {
    return Status::InvalidArgument(dir_ + ": the index has no attributes to filter on (build it with attributes: " +
                                   "vxctl build --attrs, BuildOptions::attributes); filter: " + p.filter->text());
  }
  VX_ASSIGN_OR_RETURN(RowSet match, attrs_->Match(*p.filter));
  std::shared_ptr<const WriteState> w;
  if (any_writes_.load(std::memory_order_acquire)) {
    w = writes();
    if (w->delta->rows > 0) {
      VX_ASSIGN_OR_RETURN(const RowSet inserted, MatchFilter(*p.filter, *w->delta));
      roaring_bitmap_or_inplace(match.raw(), inserted.raw());
    }
    if (w->deleted) w->deleted->RemoveFrom(match.raw());
  }
  SearchStats local;
  local.filter_rows = match.size();
  local.filter_scan_limit = ScanLimit(p);
  // The plan's rows: the built ones (numbered first).
  const uint64_t built = roaring_bitmap_range_cardinality(match.raw(), 0, params_.count);
  const uint64_t want = std::min<uint64_t>(p.k, built);
  thread_local std::vector<uint32_t> rows;  // the scan's, reused across queries
  Status s;
  if (want == 0) {
    // Nothing matches: no plan runs.
  } else if (built <= local.filter_scan_limit) {
    local.filter_scans = 1;
    match.Rows(&rows, 0, built);
    s = ScanRows(query, p, rows, out, &local);
  } else {
    local.filter_walks = 1;
    SearchParams q = p;
    q.filter = nullptr;
    const double scale = double(params_.count) / double(built);
    q.probes = static_cast<uint32_t>(std::min<double>(std::ceil(std::max<uint32_t>(p.probes, 1) * scale), 1u << 30));
    s = SearchChecked(query, q, &match, out, &local);
    if (s.ok() && out->size() < want) {
      local.filter_fallbacks = 1;
      match.Rows(&rows, 0, built);
      s = ScanRows(query, p, rows, out, &local);
    }
  }
  // The inserted rows that match: those numbered past the built ones.
  if (s.ok() && local.filter_rows > built) {
    match.Rows(&rows, built, local.filter_rows - built);
    s = MergeInserted(
        query, p.k, [&](const float* q, TopK* top) { return w->delta->SearchRows(info_.metric, q, rows, top); }, out,
        &local);
  }
  if (stats != nullptr) stats->Add(local);
  return s;
}

Status IndexBase::ScanRows(const float* query, const SearchParams& p, std::span<const uint32_t> rows,
                           std::vector<SearchResult>* out, SearchStats* stats) const {
  thread_local QueryVector q;
  thread_local RerankScratch x;
  out->clear();
  VX_RETURN_IF_ERROR(q.Prepare(info_.metric, query, info_.dim));
  x.rows.assign(rows.begin(), rows.end());
  x.lower.clear();
  return Rerank(q.data(), p.k, x, stats, out);
}

std::shared_ptr<const WriteState> IndexBase::writes() const {
  std::lock_guard lock(writes_mu_);
  return writes_;
}

void IndexBase::CountWrites(const WriteState& s) {
  info_.deleted = s.deleted ? s.deleted->size() : 0;
  info_.inserted = s.delta->rows;
  info_.write_bytes = (s.deleted ? s.deleted->bytes() : 0) + s.delta->bytes();
}

void IndexBase::PublishWrites(std::shared_ptr<const WriteState> writes) {
  if (writes->deleted && writes->deleted->size() == 0) {  // no check at all: searches skip it
    auto copy = std::make_shared<WriteState>(*writes);
    copy->deleted.reset();
    writes = std::move(copy);
  }
  std::lock_guard lock(writes_mu_);
  any_writes_.store(writes->deleted != nullptr || writes->delta->rows > 0, std::memory_order_release);
  writes_.swap(writes);
}

Status IndexBase::ApplyLogRecord(const WalRecord& r, WriteState* s) const {
  const std::string where = FilePath(kWalFile) + ": record (LSN " + std::to_string(r.lsn) + ")";
  const uint64_t rows = s->rows();
  const auto check_row = [&](uint32_t row) {
    if (row < rows) return Status::Ok();
    return Status::Corruption(where + ": names row " + std::to_string(row) + " of an index of " + std::to_string(rows));
  };
  if (r.type == static_cast<uint16_t>(LogRecordType::kDelete)) {
    if (r.payload.size() % sizeof(uint32_t) != 0) return Status::Corruption(where + ": a delete of a partial row");
    std::vector<uint32_t> dead(r.payload.size() / sizeof(uint32_t));
    std::memcpy(dead.data(), r.payload.data(), r.payload.size());
    for (uint32_t row : dead) VX_RETURN_IF_ERROR(check_row(row));
    s->deleted = WithDeleted(s->deleted.get(), dead);
    return Status::Ok();
  }
  if (r.type != static_cast<uint16_t>(LogRecordType::kPut)) {
    return Status::NotSupported(where + " of type " + std::to_string(r.type) +
                                ", which this build of vx does not know");
  }
  uint64_t n = 0;
  if (r.payload.size() >= 8) std::memcpy(&n, r.payload.data(), 8);
  const uint64_t row_bytes = sizeof(uint32_t) + sizeof(int64_t) + uint64_t{params_.dim} * sizeof(float);
  const uint64_t attrs_at = 8 + n * row_bytes;  // the rows' attributes follow when the index has columns
  const bool has_attrs = !params_.attributes.empty();
  if (r.payload.size() < 8 || n > r.payload.size() / row_bytes ||
      (has_attrs ? r.payload.size() <= attrs_at : r.payload.size() != attrs_at))
    return Status::Corruption(where + ": an insert whose size does not match its row count");
  std::vector<uint32_t> old(n);
  std::vector<int64_t> keys(n);
  std::vector<float> vectors(n * params_.dim);
  const uint8_t* at = r.payload.data() + 8;
  std::memcpy(old.data(), at, n * sizeof(uint32_t));
  std::memcpy(keys.data(), at + n * sizeof(uint32_t), n * sizeof(int64_t));
  std::memcpy(vectors.data(), at + n * (sizeof(uint32_t) + sizeof(int64_t)), vectors.size() * sizeof(float));
  std::erase(old, kNoRow);
  for (uint32_t row : old) VX_RETURN_IF_ERROR(check_row(row));
  if (!old.empty()) s->deleted = WithDeleted(s->deleted.get(), old);
  Attributes attrs;
  if (has_attrs) {
    const std::string bytes(reinterpret_cast<const char*>(r.payload.data()) + attrs_at, r.payload.size() - attrs_at);
    VX_ASSIGN_OR_RETURN(attrs, s->delta->ParseAttrs(bytes, n, where));
  }
  s->delta = s->delta->Append(keys.data(), vectors.data(), n, has_attrs ? &attrs : nullptr);
  return Status::Ok();
}

Status IndexBase::ReplayLog(const LogReader& read) {
  WriteState s = *writes();
  WalReplay found;
  VX_RETURN_IF_ERROR(
      read([&](const WalRecord& r) { return r.lsn <= params_.checkpoint_lsn ? Status::Ok() : ApplyLogRecord(r, &s); },
           &found));
  // Records past the checkpoint are applied; a log that starts past it has
  // lost the records between (first_lsn 0: there is no log).
  if (found.first_lsn > params_.checkpoint_lsn + 1) {
    return Status::Corruption(FilePath(kWalFile) + ": starts at LSN " + std::to_string(found.first_lsn) +
                              " but the last checkpoint folded only up to " + std::to_string(params_.checkpoint_lsn) +
                              ": the records between are missing");
  }
  info_.wal_bytes = found.bytes;
  CountWrites(s);
  PublishWrites(std::make_shared<const WriteState>(std::move(s)));
  return Status::Ok();
}

class LiveRowsSource final : public VectorSource {
 public:
  LiveRowsSource(const IndexBase& index, std::shared_ptr<const WriteState> writes, std::vector<uint32_t> rows)
      : index_(index), writes_(std::move(writes)), rows_(std::move(rows)), name_(index.dir_ + " (its live rows)") {}

  static Result<std::unique_ptr<VectorSource>> Make(const IndexBase& index, std::shared_ptr<const WriteState> w,
                                                    std::vector<int64_t>* keys, Attributes* attributes,
                                                    std::vector<uint32_t>* rows_out) {
    std::vector<uint32_t> rows;
    keys->clear();
    for (uint64_t row = 0; row < w->rows(); ++row) {
      if (w->deleted && w->deleted->Contains(static_cast<uint32_t>(row))) continue;
      rows.push_back(static_cast<uint32_t>(row));
      keys->push_back(row < index.params_.count ? index.keys_[row] : w->delta->key(row - index.params_.count));
    }
    if (rows.empty())
      return Status::InvalidArgument(index.dir_ + ": every row is deleted; there is nothing to rebuild");
    *attributes = Attributes();
    if (index.attrs_ != nullptr) {
      // The built rows' values, then the inserted rows'.
      const uint64_t built = index.params_.count;
      const size_t split = std::lower_bound(rows.begin(), rows.end(), built) - rows.begin();
      *attributes = index.attrs_->Select({rows.data(), split});
      std::vector<uint32_t> inserted(rows.begin() + split, rows.end());
      for (uint32_t& r : inserted) r -= static_cast<uint32_t>(built);
      const Attributes delta = w->delta->Attrs(0, w->delta->rows);
      for (size_t c = 0; c < delta.columns.size(); ++c) AppendRows(delta.columns[c], inserted, &attributes->columns[c]);
    }
    if (rows_out != nullptr) *rows_out = rows;
    return std::unique_ptr<VectorSource>(new LiveRowsSource(index, std::move(w), std::move(rows)));
  }

  uint64_t count() const override { return rows_.size(); }
  uint32_t dim() const override { return index_.params_.dim; }
  const std::string& name() const override { return name_; }
  Status Rewind() override {
    next_ = 0;
    return Status::Ok();
  }

  Result<size_t> Read(size_t max_rows, float* out) override {
    const size_t n = std::min<size_t>(max_rows, rows_.size() - next_);
    const uint32_t dim = index_.params_.dim;
    const uint64_t built = index_.params_.count;
    std::span<const uint32_t> batch(rows_.data() + next_, n);
    // Built rows through the pool (they precede the inserted ones).
    const size_t from_file = std::lower_bound(batch.begin(), batch.end(), built) - batch.begin();
    slots_.assign(batch.begin(), batch.begin() + from_file);
    SearchStats stats;
    VX_RETURN_IF_ERROR(index_.pages_->VisitVectors(
        index_.vlayout_, slots_, refs_, pages_, &stats, [&](uint32_t row, const uint8_t* v) {
          float* to = out + (std::lower_bound(batch.begin(), batch.end(), row) - batch.begin()) * dim;
          if (index_.vlayout_.storage == ElementType::kF16) {
            for (uint32_t j = 0; j < dim; ++j) {
              uint16_t h;
              std::memcpy(&h, v + 2 * j, 2);
              to[j] = HalfToFloat(h);
            }
          } else {
            std::memcpy(to, v, dim * sizeof(float));
          }
        }));
    for (size_t i = from_file; i < n; ++i)
      std::memcpy(out + i * dim, writes_->delta->vector(batch[i] - built), dim * sizeof(float));
    next_ += n;
    return n;
  }

 private:
  const IndexBase& index_;
  const std::shared_ptr<const WriteState> writes_;
  const std::vector<uint32_t> rows_;  // the live rows, ascending
  const std::string name_;
  size_t next_ = 0;
  std::vector<uint32_t> slots_;
  std::vector<PageRef> refs_;
  std::vector<PageHandle> pages_;
};

Result<std::unique_ptr<VectorSource>> LiveRowsOf(const IndexBase& index, std::shared_ptr<const WriteState> writes,
                                                 std::vector<int64_t>* keys, Attributes* attributes,
                                                 std::vector<uint32_t>* rows) {
  return LiveRowsSource::Make(index, std::move(writes), keys, attributes, rows);
}

// What the files record about themselves must agree with the manifest: a
// manifest that passes its checksum but lies (a metric or element type
// changed by hand, a count from another index) is Corruption, not wrong
// answers.
Status IndexBase::CrossCheck() const {
  if (quantizer_->metric() != params_.metric) {
    return Status::Corruption(FilePath(kQuantizerFile) + ": trained for metric " + MetricName(quantizer_->metric()) +
                              "; the manifest says " + MetricName(params_.metric));
  }
  if (quantizer_->spec().ToString() != params_.quant) {
    return Status::Corruption(FilePath(kQuantizerFile) + ": holds " + quantizer_->spec().ToString() +
                              " codes; the manifest says " + params_.quant);
  }
  VX_ASSIGN_OR_RETURN(const PagedFileHeader h, pages_->ReadFileHeader(PageClass::kVector));
  if (h.kind != static_cast<uint32_t>(PagedFileKind::kVectors) || h.count != params_.count || h.dim != params_.dim ||
      h.element != static_cast<uint32_t>(params_.storage) || h.per_page != vlayout_.per_page ||
      h.record_bytes != vlayout_.vector_bytes) {
    return Status::Corruption(FilePath(kVectorsFile) + ": its header says " + std::to_string(h.count) + " vectors of " +
                              std::to_string(h.dim) + " dims, element type " + std::to_string(h.element) +
                              "; the manifest says " + std::to_string(params_.count) + " of " +
                              std::to_string(params_.dim) + " as " + ElementTypeName(params_.storage));
  }
  return Status::Ok();
}

Result<std::string> IndexBase::ReadResident(const std::string& name) const {
  VX_ASSIGN_OR_RETURN(const ManifestFile f, ManifestEntry(manifest_, name, dir_));
  return ReadWholeFile(env_, FilePath(name), f.checksum);
}

Result<uint64_t> IndexBase::Prewarm() const {
  return pages_->PrewarmStructure(info_.structure_bytes / info_.page_size);
}

Status IndexBase::Rerank(const float* query, uint32_t k, RerankScratch& x, SearchStats* stats,
                         std::vector<SearchResult>* out) const {
  VX_ASSIGN_OR_RETURN(QueryDistance exact, QueryDistance::Make(info_.metric, info_.storage, query, info_.dim));
  x.top.Reset(k);
  const auto visit = [&](uint32_t row, const uint8_t* v) { x.top.Push(exact(v), keys_[row]); };
  std::span<uint32_t> rows(x.rows);
  const size_t first = x.lower.empty() ? rows.size() : std::min<size_t>(k, rows.size());
  stats->vectors_reranked += first;
  VX_RETURN_IF_ERROR(pages_->VisitVectors(vlayout_, rows.first(first), x.refs, x.pages, stats, visit));
  // The rest, kept in place past the first k: those whose lower bound is
  // within the k-th exact distance found.
  const float kth = x.top.threshold();
  size_t rest = 0;
  for (size_t i = first; i < rows.size(); ++i) {
    if (x.lower[i] <= kth) rows[first + rest++] = rows[i];
  }
  stats->vectors_reranked += rest;
  if (rest > 0)
    VX_RETURN_IF_ERROR(pages_->VisitVectors(vlayout_, rows.subspan(first, rest), x.refs, x.pages, stats, visit));
  for (const Neighbor& nb : x.top.Sorted()) out->push_back(SearchResult{nb.id, nb.dist});
  return Status::Ok();
}

}  // namespace vx
