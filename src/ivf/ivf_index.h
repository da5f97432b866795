// IvfIndex: an open IVF index (open.cc opens it, search.cc searches it).
// Centroids and the list directory in RAM; list pages (codes and rows) and
// full vectors through the buffer pool.
#pragma once

#include "core/query.h"
#include "core/row_marks.h"
#include "index/index_base.h"
#include "ivf/layout.h"

namespace vx::ivf {

class IvfIndex : public IndexBase {
 public:
  // max(100, 25 x probes) unless set: see Index::RerankDepth.
  uint32_t RerankDepth(const SearchParams& p) const override {
    if (p.rerank) return std::max(p.rerank, p.k);
    return std::max({100u, 25 * Probes(p), p.k});
  }
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& m, const IndexOptions& o);
  Status SearchChecked(const float* query, const SearchParams& p, const RowCheck* check, std::vector<SearchResult>* out,
                       SearchStats* stats) const override;

 private:
  Status LoadTypeFiles(const Manifest& m) override;
  struct Scratch {
    QueryVector query;
    PreparedQuery pq;
    std::vector<float> centroid_dist, scores;
    std::vector<uint32_t> ranked, order, ref_list;
    std::vector<PageRef> refs;
    std::vector<PageHandle> pages;  // always empty between queries: no pins held
    RowMarks seen;                  // rows offered to the candidate heap (replicas > 0 only)
    struct Admitted {
      uint32_t row;
      float lower;  // estimate less its error bound; -inf without one
    };
    std::vector<Admitted> admitted;  // offered to the candidate heap, in order
    TopK candidates{1};
    TopK upper_k{1};  // the k smallest upper bounds (estimate + error bound)
    RerankScratch rerank;
  };
  static Scratch& ThreadScratch();
  uint32_t Probes(const SearchParams& p) const { return std::clamp<uint32_t>(p.probes, 1, ivf_.lists); }
  // Whether entries are bounded as they are admitted (a cheap error bound:
  // RaBitQ) and the rerank reads by their lower bounds.
  bool Bounded() const { return quantizer_->has_error_bound() && quantizer_->error_bound_is_cheap(); }

  // The search's steps (search.cc).
  Status RankLists(uint32_t probes, Scratch& x) const;
  void OrderForScan(uint32_t from, uint32_t to, Scratch& x) const;
  // Orders lists by centroid distance, ties by number.
  static auto ListNearer(const Scratch& x) {
    return [&x](uint32_t a, uint32_t b) {
      return x.centroid_dist[a] < x.centroid_dist[b] || (x.centroid_dist[a] == x.centroid_dist[b] && a < b);
    };
  }
  Status ScanLists(const RowCheck* check, Scratch& x, SearchStats* stats) const;
  Status ScanPage(const uint8_t* page, uint64_t page_no, uint32_t list, const RowCheck* check, Scratch& x,
                  SearchStats* stats) const;

  IvfParams ivf_;
  ListLayout llayout_{};
  std::vector<float> centroids_;
  std::vector<ListExtent> extents_;
};

}  // namespace vx::ivf
