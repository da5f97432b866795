// HNSW construction (Graph::Build). Invariants while inserting in parallel:
//   * Every node's lists are allocated before any insertion (levels are drawn
//     up front), so links to a node never race with its allocation.
//   * A node's lists are read and written only under its stripe lock; a
//     search copies a list under the lock and then scores without it.
//   * The entry point and max level change under entry_mu only.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <queue>
#include <random>
#include <thread>

#include "core/check.h"
#include "core/distance.h"
#include "core/parallel.h"
#include "hnsw/graph.h"
#include "hnsw/select.h"

namespace vx::hnsw {
namespace {

constexpr size_t kStripes = 1 << 16;

class Builder {
 public:
  Builder(Graph* g, const float* data, uint32_t dim, Metric metric, const GraphParams& p)
      : g_(g),
        data_(data),
        dim_(dim),
        params_(p),
        locks_(kStripes),
        dist_(ActiveKernels().one[static_cast<int>(metric)][static_cast<int>(ElementType::kF32)]) {}

  float Dist(const float* a, uint32_t b) const { return dist_(a, 0, data_ + uint64_t{b} * dim_, dim_); }
  const float* Vec(uint32_t id) const { return data_ + uint64_t{id} * dim_; }
  std::mutex& Lock(uint32_t id) { return locks_[id % kStripes]; }

  std::vector<uint32_t> CopyNeighbors(uint32_t node, uint32_t level) {
    std::lock_guard l(Lock(node));
    auto s = g_->Neighbors(node, level);
    return {s.begin(), s.end()};
  }

  // Beam search on one layer from `entries`; returns up to ef nearest, sorted.
  std::vector<Candidate> SearchLayer(const float* q, const std::vector<Candidate>& entries, uint32_t ef, uint32_t level,
                                     std::vector<uint32_t>& visited, uint32_t& tag) {
    if (++tag == 0) {
      std::fill(visited.begin(), visited.end(), 0);
      tag = 1;
    }
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> frontier;
    std::priority_queue<Candidate> best;
    for (const Candidate& e : entries) {
      visited[e.id] = tag;
      frontier.push(e);
      best.push(e);
    }
    while (best.size() > ef) best.pop();
    while (!frontier.empty()) {
      const Candidate c = frontier.top();
      if (best.size() >= ef && c.dist > best.top().dist) break;
      frontier.pop();
      for (uint32_t v : CopyNeighbors(c.id, level)) {
        if (visited[v] == tag) continue;
        visited[v] = tag;
        const float d = Dist(q, v);
        if (best.size() < ef || d < best.top().dist) {
          frontier.push({d, v});
          best.push({d, v});
          if (best.size() > ef) best.pop();
        }
      }
    }
    std::vector<Candidate> out(best.size());
    for (size_t i = out.size(); i-- > 0;) {
      out[i] = best.top();
      best.pop();
    }
    return out;
  }

  std::vector<uint32_t> Select(const std::vector<Candidate>& sorted, uint32_t max) {
    return SelectNeighbors(sorted, max, [&](uint32_t a, uint32_t b) { return Dist(Vec(a), b); });
  }

  void Link(uint32_t node, uint32_t level, uint32_t other) {
    const uint32_t max = level == 0 ? g_->m0() : g_->m();
    std::lock_guard l(Lock(node));
    auto cur = g_->Neighbors(node, level);
    if (std::find(cur.begin(), cur.end(), other) != cur.end()) return;
    if (cur.size() < max) {
      std::vector<uint32_t> ids(cur.begin(), cur.end());
      ids.push_back(other);
      g_->SetNeighbors(node, level, ids);
      return;
    }
    std::vector<Candidate> cand;
    cand.reserve(cur.size() + 1);
    for (uint32_t v : cur) cand.push_back({Dist(Vec(node), v), v});
    cand.push_back({Dist(Vec(node), other), other});
    std::sort(cand.begin(), cand.end());
    g_->SetNeighbors(node, level, Select(cand, max));
  }

  void Insert(uint32_t q, std::vector<uint32_t>& visited, uint32_t& tag) {
    const float* x = Vec(q);
    uint32_t entry, top;
    {
      std::lock_guard l(entry_mu_);
      entry = g_->entry();
      top = g_->max_level();
    }
    const uint32_t lq = g_->level(q);
    Candidate ep{Dist(x, entry), entry};
    for (uint32_t l = top; l > lq; --l) {  // greedy descent
      for (bool moved = true; moved;) {
        moved = false;
        for (uint32_t v : CopyNeighbors(ep.id, l)) {
          const float d = Dist(x, v);
          if (d < ep.dist) {
            ep = {d, v};
            moved = true;
          }
        }
      }
    }
    std::vector<Candidate> entries = {ep};
    for (uint32_t l = std::min(lq, top) + 1; l-- > 0;) {
      std::vector<Candidate> found = SearchLayer(x, entries, params_.ef_construction, l, visited, tag);
      const std::vector<uint32_t> chosen = Select(found, l == 0 ? g_->m0() : g_->m());
      {
        std::lock_guard lock(Lock(q));
        g_->SetNeighbors(q, l, chosen);
      }
      for (uint32_t v : chosen) Link(v, l, q);
      entries = std::move(found);
    }
    if (lq > top) {
      std::lock_guard l(entry_mu_);
      if (lq > g_->max_level()) g_->SetEntry(q, lq);
    }
  }

 private:
  Graph* g_;
  const float* data_;
  uint32_t dim_;
  GraphParams params_;
  std::vector<std::mutex> locks_;
  OneFn dist_;
  std::mutex entry_mu_;
};

}  // namespace

Graph::Graph(uint32_t m, uint32_t entry, uint32_t max_level, std::vector<uint8_t> levels)
    : m_(m), entry_(entry), max_level_(max_level), level_(std::move(levels)) {
  const uint64_t n = level_.size();
  layer0_.assign(n * (1 + m0()), 0);
  upper_offset_.resize(n + 1);
  uint64_t off = 0;
  for (uint64_t i = 0; i < n; ++i) {
    upper_offset_[i] = off;
    off += uint64_t{level_[i]} * (1 + m_);
  }
  upper_offset_[n] = off;
  upper_.assign(off, 0);
}

uint32_t* Graph::List(uint32_t node, uint32_t level, uint32_t** count) {
  uint32_t* base = level == 0 ? layer0_.data() + uint64_t{node} * (1 + m0())
                              : upper_.data() + upper_offset_[node] + uint64_t{level - 1} * (1 + m_);
  *count = base;
  return base + 1;
}

std::span<const uint32_t> Graph::Neighbors(uint32_t node, uint32_t level) const {
  if (level > level_[node]) return {};
  uint32_t* count;
  uint32_t* ids = const_cast<Graph*>(this)->List(node, level, &count);
  return {ids, *count};
}

void Graph::SetNeighbors(uint32_t node, uint32_t level, std::span<const uint32_t> ids) {
  VX_CHECK(level <= level_[node]);
  VX_CHECK(ids.size() <= (level == 0 ? m0() : m_));
  uint32_t* count;
  uint32_t* dst = List(node, level, &count);
  std::copy(ids.begin(), ids.end(), dst);
  *count = static_cast<uint32_t>(ids.size());
}

Graph Graph::Renumbered(const std::vector<uint32_t>& new_id) const {
  const uint32_t n = size();
  std::vector<uint8_t> levels(n);
  for (uint32_t i = 0; i < n; ++i) levels[new_id[i]] = level_[i];
  Graph g(m_, new_id[entry_], max_level_, std::move(levels));
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t l = 0; l <= level_[i]; ++l) {
      ids.clear();
      for (uint32_t v : Neighbors(i, l)) ids.push_back(new_id[v]);
      g.SetNeighbors(new_id[i], l, ids);
    }
  }
  return g;
}

Graph Graph::Build(const float* data, uint32_t n, uint32_t dim, Metric metric, const GraphParams& p) {
  VX_CHECK(n > 0 && p.m >= 2);
  // Levels up front: floor(-ln(U) * mL), mL = 1/ln(m), capped at 15.
  std::vector<uint8_t> levels(n);
  std::mt19937_64 rng(p.seed);
  const double ml = 1.0 / std::log(static_cast<double>(p.m));
  for (uint8_t& l : levels) {
    const double u = 1.0 - std::uniform_real_distribution<double>(0, 1)(rng);
    l = static_cast<uint8_t>(std::min(15.0, std::floor(-std::log(u) * ml)));
  }
  const uint32_t first_level = levels[0];
  Graph g(p.m, 0, first_level, std::move(levels));
  Builder b(&g, data, dim, metric, p);
  // Node 0 is the first entry point; the rest are inserted in parallel,
  // chunks handed out dynamically, each thread with its own visited list.
  std::atomic<uint64_t> next{1}, done{1};
  std::mutex progress_mu;
  constexpr uint32_t kChunk = 256;
  auto work = [&] {
    std::vector<uint32_t> visited(n, 0);
    uint32_t tag = 0;
    for (uint64_t first = next.fetch_add(kChunk); first < n; first = next.fetch_add(kChunk)) {
      if (p.cancel && p.cancel->load(std::memory_order_relaxed)) return;
      const uint64_t last = std::min<uint64_t>(n, first + kChunk);
      for (uint64_t q = first; q < last; ++q) b.Insert(static_cast<uint32_t>(q), visited, tag);
      const uint64_t now = done.fetch_add(last - first) + (last - first);
      if (p.progress) {
        std::lock_guard l(progress_mu);
        p.progress(now, n);
      }
    }
  };
  std::vector<std::thread> pool;
  StartThreads(static_cast<size_t>(ResolveThreads(p.threads) - 1), work, &pool);
  work();
  for (auto& t : pool) t.join();
  return g;
}

}  // namespace vx::hnsw
