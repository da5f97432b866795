// Searching an HNSW index (one query):
//   1. Prepare the quantizer's query state; descend the upper layers (RAM)
//      by code distance, greedily to layer 1, which keeps Layer1Width.
//   2. Layer 0: a best-first beam search by code distance. Each step takes up
//      to `beam` of the nearest unexpanded candidates, pins all their graph
//      pages in one batch (the misses are one io_uring submission), and
//      scores every unvisited neighbour's code. A node the RowCheck rejects
//      is walked through but never kept as a result candidate.
//   3. Rerank the best `rerank` candidates (under codes with an error bound,
//      those it cannot rule out of the k nearest) by exact distance to their
//      full vectors, pinned in one batch (with a bound: the nearest k, then
//      those still in reach), and return the k nearest keys.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "hnsw/hnsw.h"
#include "hnsw/hnsw_index.h"

namespace vx::hnsw {
namespace {

// Candidates kept on layer 1: one per 10,000 rows, from 10 to 40. A large
// clustered set needs the width to seed layer 0 in every cluster near the
// query (1M x 128: recall 0.934 at ef_search 40 with 40, 0.883 with 10); on
// a small set layer 1 has a few hundred nodes and a wide search there costs
// as much as layer 0 for no recall (siftsmall: 22 us a query at ef 20 with
// 40, 16 us with 10, both at recall 0.968).
size_t Layer1Width(uint64_t rows) { return std::clamp<uint64_t>(rows / 10000, 10, 40); }

}  // namespace

// One query's walk state: the scratch, the codes, the check, the counters.
struct HnswIndex::Walk {
  Scratch& x;
  const uint8_t* codes;
  size_t code_size;
  const RowCheck* check;  // layer 0 only: the upper layers route
  SearchStats stats;

  // Offers the unvisited nodes of `ids`: each is scored by code and queued
  // for expansion (frontier: min-heap) when among the `limit` nearest found
  // (best: max-heap), which it joins if the check admits it. Their codes
  // are scored together (a block kernel's lone score is a chain of
  // dependent adds), after prefetches that overlap the cache misses.
  void Offer(const Quantizer& q, std::span<const uint32_t> ids, size_t limit, const RowCheck* admit) {
    size_t n = 0;
    for (uint32_t v : ids) {
      if (!x.visited.Insert(v)) continue;
      __builtin_prefetch(codes + uint64_t{v} * code_size);
      __builtin_prefetch(codes + uint64_t{v} * code_size + code_size - 1);
      x.fresh[n++] = v;
    }
    if (n == 0) return;
    q.ScoreRows(x.pq, codes, {x.fresh, n}, x.block.data(), x.dists);
    stats.codes_scored += n;
    for (size_t i = 0; i < n; ++i) {
      const float d = x.dists[i];
      if (x.best.size() >= limit && d >= x.best.front().dist) continue;
      x.frontier.push_back({d, x.fresh[i]});
      std::push_heap(x.frontier.begin(), x.frontier.end(), std::greater<>());
      if (admit != nullptr && !admit->Admit(x.fresh[i])) continue;
      x.best.push_back({d, x.fresh[i]});
      std::push_heap(x.best.begin(), x.best.end());
      if (x.best.size() > limit) {
        std::pop_heap(x.best.begin(), x.best.end());
        x.best.pop_back();
      }
    }
  }
  void RestartFromBest() {
    x.frontier = x.best;
    std::make_heap(x.frontier.begin(), x.frontier.end(), std::greater<>());
  }
};

HnswIndex::Scratch& HnswIndex::ThreadScratch() {
  thread_local Scratch s;
  return s;
}

// Greedy descent (one candidate) to layer 1, then a best-first search of
// layer 1 keeping Layer1Width candidates, which seed layer 0. Greedy all the
// way strands queries of clustered data far from their neighbours (on a 5M
// set of 1,024 clusters it held layer-0 recall at 0.72 for ef 80); a wide
// search on every upper layer costs more than layer 0 itself at small
// ef_search (on 200k x 96, 93 us of a 108 us query at ef 10) for no more
// recall than the wide layer 1 alone.
void HnswIndex::SearchUpperLayers(Walk& w) const {
  const size_t width = Layer1Width(info_.count);
  w.Offer(*quantizer_, {&hnsw_.entry, 1}, info_.max_level > 1 ? 1 : width, nullptr);
  for (uint32_t l = info_.max_level; l >= 1; --l) {
    const size_t keep = l == 1 ? width : 1;
    w.RestartFromBest();
    while (!w.x.frontier.empty()) {
      std::pop_heap(w.x.frontier.begin(), w.x.frontier.end(), std::greater<>());
      const Candidate c = w.x.frontier.back();
      w.x.frontier.pop_back();
      if (w.x.best.size() >= keep && c.dist > w.x.best.front().dist) break;
      w.Offer(*quantizer_, upper_.Neighbors(c.id, l), keep, nullptr);
    }
  }
}

Status HnswIndex::SearchLayer0(Walk& w, uint32_t ef, uint32_t beam) const {
  Scratch& x = w.x;
  while (x.best.size() > ef) {
    std::pop_heap(x.best.begin(), x.best.end());
    x.best.pop_back();
  }
  w.RestartFromBest();
  if (w.check != nullptr) {  // the upper layers' candidates route; only admitted ones may be results
    std::erase_if(x.best, [&](const Candidate& c) { return !w.check->Admit(c.id); });
    std::make_heap(x.best.begin(), x.best.end());
  }
  while (!x.frontier.empty()) {
    x.step.clear();
    while (!x.frontier.empty() && x.step.size() < beam) {
      const Candidate c = x.frontier.front();
      if (x.best.size() >= ef && c.dist > x.best.front().dist) break;
      std::pop_heap(x.frontier.begin(), x.frontier.end(), std::greater<>());
      x.frontier.pop_back();
      x.step.emplace_back(c.id, graph_map_.Page(c.id));
    }
    if (x.step.empty()) break;
    x.refs.clear();
    for (const auto& [node, page] : x.step) x.refs.push_back(pages_->StructurePage(page));
    std::sort(x.refs.begin(), x.refs.end(), [](PageRef a, PageRef b) { return a.page.value < b.page.value; });
    x.refs.erase(std::unique(x.refs.begin(), x.refs.end(), [](PageRef a, PageRef b) { return a.page == b.page; }),
                 x.refs.end());
    VX_RETURN_IF_ERROR(pages_->PinStructure(x.refs, &x.pages, &w.stats));
    for (const auto& [node, page] : x.step) {
      const size_t idx =
          std::lower_bound(x.refs.begin(), x.refs.end(), page, [](PageRef r, uint64_t p) { return r.page.value < p; }) -
          x.refs.begin();
      const uint8_t *rec, *end;
      uint32_t cnt;
      if (!graph_map_.Record(node, page, x.pages[idx].payload(), info_.page_size - kPageHeaderSize, &rec, &end) ||
          !DecodeNeighbors(node, rec, end, 2 * info_.m, static_cast<uint32_t>(info_.count), x.neighbors, &cnt)) {
        x.pages.clear();
        return Status::Corruption(FilePath(kGraphFile) + " page " + std::to_string(page) + ": node " +
                                  std::to_string(node) + "'s neighbour record is malformed");
      }
      w.Offer(*quantizer_, {x.neighbors, cnt}, ef, w.check);
    }
    x.pages.clear();
  }
  return Status::Ok();
}

// The rerank's candidates from x.best (sorted, nearest first). With an
// error bound, a candidate whose lower bound is above the k-th smallest
// upper bound is not among the k nearest (with the bound's probability):
// it is left out, and the rest carry their lower bounds.
void HnswIndex::RerankCandidates(Scratch& x, uint32_t k) const {
  x.rerank.rows.clear();
  x.rerank.lower.clear();
  if (!quantizer_->has_error_bound()) {
    for (const Candidate& c : x.best) x.rerank.rows.push_back(c.id);
    return;
  }
  const auto* codes = reinterpret_cast<const uint8_t*>(codes_.data());
  const size_t cs = quantizer_->code_size();
  x.bounds.clear();
  x.upper_k.Reset(k);
  for (const Candidate& c : x.best) {
    x.bounds.push_back(quantizer_->ErrorBound(x.pq, codes + uint64_t{c.id} * cs));
    x.upper_k.Push(c.dist + x.bounds.back(), c.id);
  }
  for (size_t i = 0; i < x.best.size(); ++i) {
    const float lower = x.best[i].dist - x.bounds[i];
    if (lower > x.upper_k.threshold()) continue;
    x.rerank.rows.push_back(x.best[i].id);
    x.rerank.lower.push_back(lower);
  }
}

uint64_t HnswIndex::ScanLimit(const SearchParams& p) const {
  const double walk = 32.0 * std::max(p.ef_search, p.k) * double(info_.count);
  return std::max<uint64_t>(static_cast<uint64_t>(std::sqrt(walk)), 4ull * RerankDepth(p));
}

// The rows' codes scored in blocks, the rerank depth nearest kept, then
// reranked as a walk's candidates are.
Status HnswIndex::ScanRows(const float* query, const SearchParams& p, std::span<const uint32_t> rows,
                           std::vector<SearchResult>* out, SearchStats* stats) const {
  out->clear();
  Scratch& x = ThreadScratch();
  VX_RETURN_IF_ERROR(x.query.Prepare(info_.metric, query, info_.dim));
  quantizer_->PrepareUnit(x.query.data(), &x.pq);
  const size_t cs = quantizer_->code_size();
  constexpr size_t kBlock = 2 * kMaxM;
  if (x.block.size() < kBlock * cs) x.block.resize(kBlock * cs);
  const auto* codes = reinterpret_cast<const uint8_t*>(codes_.data());
  x.scanned.Reset(RerankDepth(p));
  // The rows are scattered over the codes: the next block's are fetched
  // while this one is scored (a scan of 10,000 rows otherwise stalls on a
  // cache miss a row).
  for (size_t first = 0; first < rows.size(); first += kBlock) {
    const size_t n = std::min(kBlock, rows.size() - first);
    const size_t ahead = std::min(first + 2 * kBlock, rows.size());
    for (size_t i = first + kBlock; i < ahead; ++i) {
      const uint8_t* code = codes + uint64_t{rows[i]} * cs;
      for (size_t at = 0; at < cs; at += 64) __builtin_prefetch(code + at);
    }
    quantizer_->ScoreRows(x.pq, codes, rows.subspan(first, n), x.block.data(), x.dists);
    for (size_t i = 0; i < n; ++i) x.scanned.Push(x.dists[i], rows[first + i]);
  }
  stats->codes_scored += rows.size();
  x.best.clear();
  for (const Neighbor& c : x.scanned.Sorted()) x.best.push_back({c.dist, static_cast<uint32_t>(c.id)});
  RerankCandidates(x, p.k);
  return Rerank(x.query.data(), p.k, x.rerank, stats, out);
}

Status HnswIndex::SearchChecked(const float* query, const SearchParams& p, const RowCheck* check,
                                std::vector<SearchResult>* out, SearchStats* stats) const {
  out->clear();
  if (p.k == 0) return Status::InvalidArgument("k must be at least 1");
  Scratch& x = ThreadScratch();
  x.visited.Begin(info_.count);
  VX_RETURN_IF_ERROR(x.query.Prepare(info_.metric, query, info_.dim));
  quantizer_->PrepareUnit(x.query.data(), &x.pq);
  const size_t cs = quantizer_->code_size();
  // An offer holds at most 2m nodes: a layer-0 list (an upper one has m).
  if (x.block.size() < 2 * info_.m * cs) x.block.resize(2 * info_.m * cs);
  Walk w{x, reinterpret_cast<const uint8_t*>(codes_.data()), cs, check, {}};
  x.best.clear();
  x.frontier.clear();

  // 1. Upper layers. 2. Layer 0.
  SearchUpperLayers(w);
  // A step pins at most `beam` pages: no more than a search's share of the pool.
  const uint32_t beam = static_cast<uint32_t>(std::clamp<size_t>(p.beam, 1, pages_->SharePages(PageClass::kStructure)));
  VX_RETURN_IF_ERROR(SearchLayer0(w, std::max(p.ef_search, p.k), beam));

  // 3. Rerank the nearest `rerank` by exact distance.
  std::sort(x.best.begin(), x.best.end());
  x.best.resize(std::min<size_t>(RerankDepth(p), x.best.size()));
  RerankCandidates(x, p.k);
  VX_RETURN_IF_ERROR(Rerank(x.query.data(), p.k, x.rerank, &w.stats, out));
  if (stats) stats->Add(w.stats);
  return Status::Ok();
}

}  // namespace vx::hnsw
