// Opening an IVF index directory and searching it.
//
// Search (one query):
//   1. Score every centroid (RAM) and take the `probes` nearest lists.
//   2. Pin all their pages, in chunks of at most a quarter of the list pool
//      (usually one chunk: the misses are one batch, one round trip), and
//      score each page's codes as one block; keep the best `rerank` rows
//      (a row replicated into several probed lists counts once).
//   3. Rerank those rows by exact distance to their full vectors, pinned in
//      one batch, and return the k nearest.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/distance.h"
#include "core/row_marks.h"
#include "core/topk.h"
#include "io/buffer_pool.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/paged_file.h"
#include "io/index_pages.h"
#include "io/vector_file.h"
#include "ivf/ivf.h"
#include "ivf/layout.h"
#include "quant/quantizer.h"

namespace vx::ivf {
namespace {

class IvfIndex : public Index {
 public:
  const IndexInfo& info() const override { return info_; }

  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
    Env* env = o.env ? o.env : DefaultEnv();
    std::unique_ptr<IvfIndex> x(new IvfIndex());
    IndexInfo& info = x->info_;
    VX_RETURN_IF_ERROR(CheckIndexManifest(env, dir, m, "ivf", &info));
    VX_ASSIGN_OR_RETURN(const uint64_t lists, ManifestNumber(m, "lists", dir));
    VX_ASSIGN_OR_RETURN(const uint64_t replicas, ManifestNumber(m, "replicas", dir));
    VX_ASSIGN_OR_RETURN(info.entries, ManifestNumber(m, "entries", dir));
    if (lists == 0 || lists > info.count || replicas > 8 || info.entries < info.count) {
      return Status::Corruption(dir + "/MANIFEST: lists, replicas or entries out of range");
    }
    const uint64_t ps = info.page_size, dim = info.dim;
    info.lists = static_cast<uint32_t>(lists);
    info.replicas = static_cast<uint32_t>(replicas);
    VX_ASSIGN_OR_RETURN(x->vlayout_, VectorLayout::Make(ps, info.dim, info.storage));
    if (x->vlayout_.page_size != ps) return Status::Corruption(dir + "/MANIFEST: page size below one vector");

    VX_ASSIGN_OR_RETURN(const ManifestFile lists_file, ManifestEntry(m, "lists", dir));
    VX_ASSIGN_OR_RETURN(const ManifestFile vectors_file, ManifestEntry(m, "vectors", dir));
    VX_ASSIGN_OR_RETURN(const ManifestFile centroids_file, ManifestEntry(m, "centroids", dir));
    VX_ASSIGN_OR_RETURN(const ManifestFile directory_file, ManifestEntry(m, "directory", dir));
    VX_ASSIGN_OR_RETURN(const ManifestFile quantizer_file, ManifestEntry(m, "quantizer", dir));
    info.graph_bytes = lists_file.size;
    info.vector_bytes = vectors_file.size;

    // RAM-resident parts, verified whole.
    VX_ASSIGN_OR_RETURN(std::string qbytes, ReadWholeFile(env, m.FilePath(dir, "quantizer"), quantizer_file.checksum));
    VX_ASSIGN_OR_RETURN(x->quantizer_, Quantizer::Deserialize(qbytes));
    if (x->quantizer_->dim() != dim) return Status::Corruption(m.FilePath(dir, "quantizer") + ": dimension differs from the manifest");
    x->llayout_ = ListLayout::Make(ps, x->quantizer_->code_size());
    if (x->llayout_.per_page == 0) return Status::Corruption(m.FilePath(dir, "quantizer") + ": code larger than a list page");
    VX_ASSIGN_OR_RETURN(std::string c, ReadWholeFile(env, m.FilePath(dir, "centroids"), centroids_file.checksum));
    if (c.size() != lists * dim * 4) return Status::Corruption(m.FilePath(dir, "centroids") + ": wrong size");
    x->centroids_.resize(lists * dim);
    std::memcpy(x->centroids_.data(), c.data(), c.size());
    VX_ASSIGN_OR_RETURN(std::string d, ReadWholeFile(env, m.FilePath(dir, "directory"), directory_file.checksum));
    if (d.size() != lists * sizeof(ListExtent)) return Status::Corruption(m.FilePath(dir, "directory") + ": wrong size");
    x->extents_.resize(lists);
    std::memcpy(x->extents_.data(), d.data(), d.size());
    const uint64_t file_pages = lists_file.size / ps;
    uint64_t total = 0;
    for (uint64_t l = 0; l < lists; ++l) {
      const ListExtent& e = x->extents_[l];
      if (e.first_page == 0 || e.first_page + e.pages > file_pages || e.pages != x->llayout_.PagesFor(e.count)) {
        return Status::Corruption(m.FilePath(dir, "directory") + ": list " + std::to_string(l) + " lies outside the lists file");
      }
      total += e.count;
    }
    if (total != info.entries) return Status::Corruption(m.FilePath(dir, "directory") + ": entries do not add up to the manifest's");
    info.resident_bytes = x->centroids_.size() * 4 + x->extents_.size() * sizeof(ListExtent);

    x->lists_path_ = m.FilePath(dir, "lists");
    VX_ASSIGN_OR_RETURN(x->pages_, IndexPages::Open(env, x->lists_path_, m.FilePath(dir, "vectors"), PageType::kList, ps, o));
    return std::unique_ptr<Index>(std::move(x));
  }

  Status Search(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                SearchStats* stats) const override {
    out->clear();
    if (p.k == 0) return Status::InvalidArgument("k must be at least 1");
    const uint32_t probes = std::clamp<uint32_t>(p.probes, 1, info_.lists);
    const uint32_t rerank = RerankDepth(p);
    const uint32_t dim = info_.dim;
    SearchStats local;
    Scratch& x = ThreadScratch();
    VX_RETURN_IF_ERROR(quantizer_->Prepare(query, &x.pq));

    // 1. Nearest lists, by the distance the build assigned with (cosine:
    // l2 from the unit query).
    const float* q = query;
    Metric centroid_metric = info_.metric;
    if (info_.metric == Metric::kCosine) {
      x.unit.assign(query, query + dim);
      double s = 0;
      for (float v : x.unit) s += double{v} * v;
      for (float& v : x.unit) v = static_cast<float>(v / std::sqrt(s));  // s > 0: Prepare rejected a zero query
      q = x.unit.data();
      centroid_metric = Metric::kL2;
    }
    VX_ASSIGN_OR_RETURN(QueryDistance to_centroid, QueryDistance::Make(centroid_metric, ElementType::kF32, q, dim));
    x.centroid_dist.resize(info_.lists);
    to_centroid.Many(centroids_.data(), info_.lists, x.centroid_dist.data());
    x.order.resize(info_.lists);
    std::iota(x.order.begin(), x.order.end(), 0u);
    std::partial_sort(x.order.begin(), x.order.begin() + probes, x.order.end(), [&](uint32_t a, uint32_t b) {
      return x.centroid_dist[a] < x.centroid_dist[b] || (x.centroid_dist[a] == x.centroid_dist[b] && a < b);
    });
    x.order.resize(probes);
    std::sort(x.order.begin(), x.order.end(), [&](uint32_t a, uint32_t b) { return extents_[a].first_page < extents_[b].first_page; });

    // 2. Scan the probed lists' pages by code. A candidate enters the heap
    // as (estimate, its index in x.admitted).
    x.candidates.Reset(rerank);
    x.admitted.clear();
    const bool bounded = quantizer_->has_error_bound();
    x.upper_k.Reset(p.k);
    if (info_.replicas > 0) x.seen.Begin(info_.count);
    const size_t chunk = std::max<size_t>(1, pages_->CapacityPages(PageClass::kGraph) / 4);
    size_t li = 0;
    uint32_t next_page_in_list = 0;
    while (li < x.order.size()) {
      x.refs.clear();
      x.ref_list.clear();
      while (li < x.order.size() && x.refs.size() < chunk) {
        const ListExtent& e = extents_[x.order[li]];
        if (next_page_in_list == e.pages) {
          ++li;
          next_page_in_list = 0;
          continue;
        }
        x.refs.push_back(pages_->StructurePage(e.first_page + next_page_in_list++));
        x.ref_list.push_back(x.order[li]);
      }
      if (x.refs.empty()) break;
      VX_RETURN_IF_ERROR(pages_->PinStructure(x.refs, &x.pages, &local));
      for (size_t i = 0; i < x.refs.size(); ++i) {
        const uint8_t* page = x.pages[i].data();
        uint32_t count, list;
        std::memcpy(&count, page + kPageHeaderSize, 4);
        std::memcpy(&list, page + kPageHeaderSize + 4, 4);
        if (list != x.ref_list[i] || count == 0 || count > llayout_.per_page) {
          x.pages.clear();
          return Status::Corruption(lists_path_ + " page " + std::to_string(x.refs[i].page.value) + ": header says list " +
                                    std::to_string(list) + " with " + std::to_string(count) + " entries; expected list " +
                                    std::to_string(x.ref_list[i]));
        }
        x.scores.resize(count);
        const uint8_t* codes = page + llayout_.CodesOffset();
        quantizer_->ScoreBlock(x.pq, codes, count, x.scores.data());
        local.codes_scored += count;
        const uint8_t* rows = page + llayout_.RowsOffset();
        for (uint32_t j = 0; j < count; ++j) {
          if (!(x.scores[j] <= x.candidates.threshold())) continue;
          uint32_t row;
          std::memcpy(&row, rows + 4 * j, 4);
          if (row >= info_.count) {
            x.pages.clear();
            return Status::Corruption(lists_path_ + " page " + std::to_string(x.refs[i].page.value) + ": row out of range");
          }
          // A replica has the same code, so the same score: skip it if its
          // first copy was already offered.
          if (info_.replicas > 0 && !x.seen.Insert(row)) continue;
          float lower = -std::numeric_limits<float>::infinity();
          if (bounded) {
            const float bound = quantizer_->ErrorBound(x.pq, codes + j * llayout_.code_size);
            x.upper_k.Push(x.scores[j] + bound, row);
            lower = x.scores[j] - bound;
            if (lower > x.upper_k.threshold()) continue;
          }
          x.candidates.Push(x.scores[j], static_cast<int64_t>(x.admitted.size()));
          x.admitted.push_back({row, lower});
        }
      }
      x.pages.clear();
    }

    // 3. Rerank by exact distance. With an error bound (RaBitQ), a candidate
    // whose lower bound is above the k-th smallest upper bound is not among
    // the k nearest (with the bound's probability): its vector is not read.
    VX_ASSIGN_OR_RETURN(QueryDistance exact, QueryDistance::Make(info_.metric, info_.storage, query, dim));
    x.slots.clear();
    for (const Neighbor& c : x.candidates.Sorted()) {
      const auto& a = x.admitted[static_cast<size_t>(c.id)];
      if (a.lower <= x.upper_k.threshold()) x.slots.push_back(a.row);
    }
    local.vectors_reranked += x.slots.size();
    x.top.Reset(p.k);
    VX_RETURN_IF_ERROR(pages_->VisitVectors(vlayout_, x.slots, x.refs, x.pages, &local, [&](uint64_t row, const uint8_t* v) {
      x.top.Push(exact(v), static_cast<int64_t>(row));
    }));
    for (const Neighbor& nb : x.top.Sorted()) out->push_back(SearchResult{nb.id, nb.dist});
    if (stats) stats->Add(local);
    return Status::Ok();
  }

  uint32_t RerankDepth(const SearchParams& p) const override {
    if (p.rerank) return std::max(p.rerank, p.k);
    const uint32_t probes = std::clamp<uint32_t>(p.probes, 1, info_.lists);
    return std::max({100u, 25 * probes, p.k});
  }

  Result<uint64_t> Prewarm() const override { return pages_->PrewarmStructure(info_.graph_bytes / info_.page_size); }

 private:
  struct Scratch {
    PreparedQuery pq;
    std::vector<float> unit, centroid_dist, scores;
    std::vector<uint32_t> order, ref_list;
    std::vector<PageRef> refs;
    std::vector<PageHandle> pages;  // always empty between queries: no pins held
    RowMarks seen;  // rows offered to the candidate heap (replicas > 0 only)
    std::vector<uint64_t> slots;
    struct Admitted {
      uint32_t row;
      float lower;  // estimate less its error bound; -inf without one
    };
    std::vector<Admitted> admitted;  // offered to the candidate heap, in order
    TopK candidates{1}, top{1};
    TopK upper_k{1};  // the k smallest upper bounds (estimate + error bound)
  };
  static Scratch& ThreadScratch() {
    thread_local Scratch s;
    return s;
  }

  std::string lists_path_;
  IndexInfo info_;
  VectorLayout vlayout_{};
  ListLayout llayout_{};
  std::unique_ptr<Quantizer> quantizer_;
  std::vector<float> centroids_;
  std::vector<ListExtent> extents_;
  std::unique_ptr<IndexPages> pages_;
};

}  // namespace

Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& manifest, const IndexOptions& options) {
  return IvfIndex::Open(dir, manifest, options);
}

}  // namespace vx::ivf
