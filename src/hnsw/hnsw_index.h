// HnswIndex: an open HNSW index (open.cc opens it, search.cc searches it).
// Upper layers, codes and the graph's page map in RAM; layer 0 on graph
// pages and full vectors on vector pages, through the buffer pool.
#pragma once

#include <utility>

#include "core/query.h"
#include "core/row_marks.h"
#include "hnsw/graph.h"
#include "hnsw/layout.h"
#include "index/index_base.h"

namespace vx::hnsw {

class HnswIndex : public IndexBase {
 public:
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& m, const IndexOptions& o);
  Status SearchChecked(const float* query, const SearchParams& p, const RowCheck* check, std::vector<SearchResult>* out,
                       SearchStats* stats) const override;
  uint32_t RerankDepth(const SearchParams& p) const override {
    return std::max(p.rerank ? p.rerank : p.ef_search, p.k);
  }
  // The whole graph, read back (layer 0 through the pool, page by page in
  // batches of a search's share): what a vacuum repairs.
  Result<Graph> LoadGraph() const;

 private:
  Status LoadTypeFiles(const Manifest& m) override;
  // A filtered search scans the matching rows' codes (in RAM), not their
  // vectors: cheaper than the walk while rows^2 <= 32 x ef_search x count
  // (the walk scores about ef_search x count / rows nodes' 32 neighbours).
  uint64_t ScanLimit(const SearchParams& p) const override;
  Status ScanRows(const float* query, const SearchParams& p, std::span<const uint32_t> rows,
                  std::vector<SearchResult>* out, SearchStats* stats) const override;
  // Per-thread buffers, reused: a query allocates nothing once warm.
  struct Scratch {
    RowMarks visited;
    QueryVector query;
    PreparedQuery pq;
    std::vector<Candidate> frontier, best;
    std::vector<std::pair<uint32_t, uint64_t>> step;  // nodes expanded this step and their graph pages
    std::vector<PageRef> refs;
    std::vector<PageHandle> pages;  // always empty between queries: no pins held
    std::vector<float> bounds;      // of the rerank candidates
    TopK upper_k{1};                // the k smallest upper bounds (estimate + error bound)
    TopK scanned{1};                // a filtered scan's nearest codes (ScanRows)
    uint32_t neighbors[2 * kMaxM];  // a decoded layer-0 list
    uint32_t fresh[2 * kMaxM];      // its unvisited nodes,
    float dists[2 * kMaxM];         // their code distances,
    std::vector<uint8_t> block;     // and their codes, gathered for a block kernel
    RerankScratch rerank;
  };
  static Scratch& ThreadScratch();

  // The search's steps (search.cc).
  struct Walk;
  void SearchUpperLayers(Walk& w) const;
  Status SearchLayer0(Walk& w, uint32_t ef, uint32_t beam) const;
  void RerankCandidates(Scratch& x, uint32_t k) const;

  HnswParams hnsw_;
  GraphPageMap graph_map_;
  UpperLayers upper_;
  std::string codes_;
};

}  // namespace vx::hnsw
