// Searching an IVF index (one query):
//   1. Score every centroid (RAM) and take the `probes` nearest lists.
//   2. Pin all their pages, in chunks of at most a quarter of the list pool
//      (usually one chunk: the misses are one batch, one round trip), and
//      score each page's codes as one block; keep the best `rerank` rows
//      that the RowCheck admits (a row replicated into several probed lists
//      counts once).
//   3. Rerank those rows by exact distance to their full vectors, pinned in
//      one batch, and return the k nearest keys.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/distance.h"
#include "ivf/ivf.h"
#include "ivf/ivf_index.h"

namespace vx::ivf {

IvfIndex::Scratch& IvfIndex::ThreadScratch() {
  thread_local Scratch s;
  return s;
}

// Ranks the lists by their centroid's distance to the prepared query
// x.query (by the distance the build assigned with; cosine: l2 from the
// unit query): x.ranked holds the `probes` nearest first, in order, then
// the rest unordered.
Status IvfIndex::RankLists(uint32_t probes, Scratch& x) const {
  const Metric centroid_metric = info_.metric == Metric::kCosine ? Metric::kL2 : info_.metric;
  VX_ASSIGN_OR_RETURN(QueryDistance to_centroid,
                      QueryDistance::Make(centroid_metric, ElementType::kF32, x.query.data(), info_.dim));
  x.centroid_dist.resize(ivf_.lists);
  to_centroid.Many(centroids_.data(), ivf_.lists, x.centroid_dist.data());
  x.ranked.resize(ivf_.lists);
  std::iota(x.ranked.begin(), x.ranked.end(), 0u);
  std::partial_sort(x.ranked.begin(), x.ranked.begin() + probes, x.ranked.end(), ListNearer(x));
  return Status::Ok();
}

// x.order = x.ranked[from, to) in file order (one pass over the file).
void IvfIndex::OrderForScan(uint32_t from, uint32_t to, Scratch& x) const {
  x.order.assign(x.ranked.begin() + from, x.ranked.begin() + to);
  std::sort(x.order.begin(), x.order.end(),
            [&](uint32_t a, uint32_t b) { return extents_[a].first_page < extents_[b].first_page; });
}

// Scores one pinned list page and offers its admitted rows. A candidate
// enters the heap as (estimate, its index in x.admitted).
Status IvfIndex::ScanPage(const uint8_t* page, uint64_t page_no, uint32_t want_list, const RowCheck* check, Scratch& x,
                          SearchStats* stats) const {
  uint32_t count, list;
  ListLayout::DecodeHeader(page, &count, &list);
  if (list != want_list || count == 0 || count > llayout_.per_page) {
    return Status::Corruption(FilePath(kListsFile) + " page " + std::to_string(page_no) + ": header says list " +
                              std::to_string(list) + " with " + std::to_string(count) + " entries; expected list " +
                              std::to_string(want_list));
  }
  x.scores.resize(count);
  const uint8_t* codes = page + llayout_.CodesOffset();
  quantizer_->ScoreBlock(x.pq, codes, count, x.scores.data());
  stats->codes_scored += count;
  const uint8_t* rows = page + llayout_.RowsOffset();
  const bool bounded = Bounded();
  for (uint32_t j = 0; j < count; ++j) {
    if (!(x.scores[j] <= x.candidates.threshold())) continue;
    uint32_t row;
    std::memcpy(&row, rows + 4 * j, 4);
    if (row >= info_.count)
      return Status::Corruption(FilePath(kListsFile) + " page " + std::to_string(page_no) + ": row out of range");
    if (check != nullptr && !check->Admit(row)) continue;
    // A replica has the same code, so the same score: skip it if its first
    // copy was already offered.
    if (ivf_.replicas > 0 && !x.seen.Insert(row)) continue;
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
  return Status::Ok();
}

// Scans the pages of the lists in x.order, a chunk of pins at a time, into
// the candidates (which it does not reset).
Status IvfIndex::ScanLists(const RowCheck* check, Scratch& x, SearchStats* stats) const {
  const size_t chunk = pages_->SharePages(PageClass::kStructure);
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
    VX_RETURN_IF_ERROR(pages_->PinStructure(x.refs, &x.pages, stats));
    for (size_t i = 0; i < x.refs.size(); ++i) {
      const Status s = ScanPage(x.pages[i].data(), x.refs[i].page.value, x.ref_list[i], check, x, stats);
      if (!s.ok()) {
        x.pages.clear();
        return s;
      }
    }
    x.pages.clear();
  }
  return Status::Ok();
}

Status IvfIndex::SearchChecked(const float* query, const SearchParams& p, const RowCheck* check,
                               std::vector<SearchResult>* out, SearchStats* stats) const {
  out->clear();
  if (p.k == 0) return Status::InvalidArgument("k must be at least 1");
  SearchStats local;
  Scratch& x = ThreadScratch();
  VX_RETURN_IF_ERROR(x.query.Prepare(info_.metric, query, info_.dim));
  quantizer_->PrepareUnit(x.query.data(), &x.pq);
  const uint32_t probes = Probes(p);
  VX_RETURN_IF_ERROR(RankLists(probes, x));
  x.candidates.Reset(RerankDepth(p));
  x.admitted.clear();
  x.upper_k.Reset(p.k);
  if (ivf_.replicas > 0) x.seen.Begin(info_.count);
  OrderForScan(0, probes, x);
  VX_RETURN_IF_ERROR(ScanLists(check, x, &local));
  // A check that rejects rows (deleted ones) can leave the probed lists with
  // fewer than k admitted: the next nearest lists are scanned, twice as many
  // each round, until k are found or every list is scanned.
  for (uint32_t scanned = probes; check != nullptr && x.candidates.size() < p.k && scanned < ivf_.lists;) {
    const uint32_t next = std::min(ivf_.lists, 2 * scanned);
    if (scanned == probes) std::sort(x.ranked.begin() + probes, x.ranked.end(), ListNearer(x));
    OrderForScan(scanned, next, x);
    VX_RETURN_IF_ERROR(ScanLists(check, x, &local));
    local.lists_widened += next - scanned;
    scanned = next;
  }

  // 3. Rerank by exact distance. With a cheap error bound (RaBitQ), a candidate
  // whose lower bound is above the k-th smallest upper bound is not among
  // the k nearest (with the bound's probability): its vector is not read.
  x.rerank.rows.clear();
  x.rerank.lower.clear();
  const bool bounded = Bounded();
  for (const Neighbor& c : x.candidates.Sorted()) {
    const auto& a = x.admitted[static_cast<size_t>(c.id)];
    if (a.lower > x.upper_k.threshold()) continue;
    x.rerank.rows.push_back(a.row);
    if (bounded) x.rerank.lower.push_back(a.lower);
  }
  VX_RETURN_IF_ERROR(Rerank(x.query.data(), p.k, x.rerank, &local, out));
  if (stats) stats->Add(local);
  return Status::Ok();
}

}  // namespace vx::ivf
