#include "index/index_base.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/distance.h"
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

Status IndexBase::LoadSegments() {
  std::shared_ptr<Tombstones> deleted;
  info_.segments = DescribeSegments(manifest_);
  for (const ManifestSegment& s : manifest_.segments) {
    if (s.kind != kTombstonesKind || s.files.size() != 1) {
      return Status::NotSupported(dir_ + "/MANIFEST: segment " + std::to_string(s.id) + " of kind '" + s.kind +
                                  "' with " + std::to_string(s.files.size()) +
                                  " files is not one this build of vx reads");
    }
    if (deleted) return Status::Corruption(dir_ + "/MANIFEST: more than one tombstones segment");
    const std::string path = FilePath(s.files[0].name);
    VX_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(env_, path, s.files[0].checksum));
    VX_ASSIGN_OR_RETURN(deleted, Tombstones::Deserialize(bytes, params_.count, path));
  }
  info_.deleted = deleted ? deleted->size() : 0;
  if (deleted) info_.resident_bytes += deleted->bytes();
  PublishDeleted(std::move(deleted));
  return Status::Ok();
}

Status IndexBase::Search(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                         SearchStats* stats) const {
  if (!any_deleted_.load(std::memory_order_acquire)) return SearchChecked(query, p, nullptr, out, stats);
  const std::shared_ptr<const Tombstones> deleted = this->deleted();
  return SearchChecked(query, p, deleted.get(), out, stats);
}

std::shared_ptr<const Tombstones> IndexBase::deleted() const {
  std::lock_guard lock(deleted_mu_);
  return deleted_;
}

void IndexBase::PublishDeleted(std::shared_ptr<const Tombstones> deleted) {
  if (deleted && deleted->size() == 0) deleted.reset();  // no check at all: searches skip it
  std::lock_guard lock(deleted_mu_);
  any_deleted_.store(deleted != nullptr, std::memory_order_release);
  deleted_.swap(deleted);
}

Status IndexBase::ApplyLogRecord(const WalRecord& r, Tombstones* deleted) const {
  const std::string where = FilePath(kWalFile) + ": record (LSN " + std::to_string(r.lsn) + ")";
  if (r.type != static_cast<uint16_t>(LogRecordType::kDelete))
    return Status::NotSupported(where + " of type " + std::to_string(r.type) +
                                ", which this build of vx does not know");
  if (r.payload.size() % sizeof(uint32_t) != 0) return Status::Corruption(where + ": a delete of a partial row");
  std::vector<uint32_t> rows(r.payload.size() / sizeof(uint32_t));
  std::memcpy(rows.data(), r.payload.data(), r.payload.size());
  for (uint32_t row : rows) {
    if (row >= params_.count) {
      return Status::Corruption(where + ": deletes row " + std::to_string(row) + " of an index of " +
                                std::to_string(params_.count));
    }
  }
  deleted->Add(rows);
  return Status::Ok();
}

Status IndexBase::ReplayLog(const LogReader& read) {
  std::shared_ptr<const Tombstones> before = deleted();
  auto deleted = before ? std::make_shared<Tombstones>(*before) : std::make_shared<Tombstones>();
  WalReplay found;
  VX_RETURN_IF_ERROR(read(
      [&](const WalRecord& r) {
        return r.lsn <= params_.checkpoint_lsn ? Status::Ok() : ApplyLogRecord(r, deleted.get());
      },
      &found));
  // Records past the checkpoint are applied; a log that starts past it has
  // lost the records between (first_lsn 0: there is no log).
  if (found.first_lsn > params_.checkpoint_lsn + 1) {
    return Status::Corruption(FilePath(kWalFile) + ": starts at LSN " + std::to_string(found.first_lsn) +
                              " but the last checkpoint folded only up to " + std::to_string(params_.checkpoint_lsn) +
                              ": the records between are missing");
  }
  info_.deleted = deleted->size();
  info_.wal_bytes = found.bytes;
  PublishDeleted(std::move(deleted));
  return Status::Ok();
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

Status WriteSharedFiles(Env* env, const GenerationWriter& gen, const std::vector<int64_t>& keys,
                        const Quantizer& quantizer) {
  VX_RETURN_IF_ERROR(WriteWholeFile(env, gen.Path(kKeysFile), keys.data(), keys.size() * sizeof(int64_t)));
  const std::string qbytes = quantizer.Serialize();
  return WriteWholeFile(env, gen.Path(kQuantizerFile), qbytes.data(), qbytes.size());
}

}  // namespace vx
