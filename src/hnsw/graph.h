// The HNSW graph in memory, and its parallel construction (Malkov &
// Yashunin), with pgvector's parameters: m links per node on the upper
// layers, 2*m on layer 0, ef_construction candidates per insertion, the
// neighbour-selection heuristic, levels drawn with mL = 1/ln(m).
//
// Build scores with full-precision vectors held in memory; the disk layout
// (layout.h) then puts layer 0 on graph pages and keeps the upper layers in RAM.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "vx/status.h"
#include "vx/types.h"

namespace vx::hnsw {

// A node and its distance to the query; ordered nearest first, ties by id.
struct Candidate {
  float dist;
  uint32_t id;
  bool operator<(const Candidate& o) const { return dist < o.dist || (dist == o.dist && id < o.id); }
  bool operator>(const Candidate& o) const { return o < *this; }
};

struct GraphParams {
  uint32_t m = 16;
  uint32_t ef_construction = 64;
  uint64_t seed = 42;
  int threads = 0;
  // Called from one thread at a time with (nodes inserted, total).
  std::function<void(uint64_t, uint64_t)> progress;
  // Once set, Build stops inserting (the graph it returns is partial).
  const std::atomic<bool>* cancel = nullptr;
  // Link in the nodes layer 0 cannot reach from the entry after the
  // insertions (off only to measure how many there would be).
  bool reconnect = true;
};

class Graph {
 public:
  // Builds over n rows of dim floats. `metric` is l2 or ip (cosine callers
  // pass unit vectors and ip).
  static Graph Build(const float* data, uint32_t n, uint32_t dim, Metric metric, const GraphParams& params);

  uint32_t size() const { return static_cast<uint32_t>(level_.size()); }
  uint32_t m() const { return m_; }
  uint32_t m0() const { return 2 * m_; }
  uint32_t entry() const { return entry_; }
  uint32_t max_level() const { return max_level_; }
  uint32_t level(uint32_t node) const { return level_[node]; }
  std::span<const uint32_t> Neighbors(uint32_t node, uint32_t level) const;

  // A graph with the same links under new ids: new_id[old] (a permutation).
  Graph Renumbered(const std::vector<uint32_t>& new_id) const;

  // The graph over the n rows of `data` that a vacuum makes from `old`: old
  // node v is row new_id[v], or is gone (kGone), and rows no node maps to
  // are new. Each kept node keeps its level and its lists, and in place of
  // a gone neighbour takes that one's kept neighbours on the same level,
  // pruned by the heuristic and topped up to its old degree with the
  // nearest left: FreshDiskANN's delete consolidation, work bounded by the
  // lists of a node's gone neighbours, no search; each repaired node then
  // links back from its neighbours. Then the new rows are inserted as
  // Build inserts. Build when no node is kept.
  static constexpr uint32_t kGone = UINT32_MAX;
  static Graph Repair(const Graph& old, const std::vector<uint32_t>& new_id, const float* data, uint32_t n,
                      uint32_t dim, Metric metric, const GraphParams& params);

  // For deserialisation: an empty graph with the given shape.
  Graph() = default;
  Graph(uint32_t m, uint32_t entry, uint32_t max_level, std::vector<uint8_t> levels);
  void SetNeighbors(uint32_t node, uint32_t level, std::span<const uint32_t> ids);
  void SetEntry(uint32_t entry, uint32_t max_level) {
    entry_ = entry;
    max_level_ = max_level;
  }

 private:
  uint32_t* List(uint32_t node, uint32_t level, uint32_t** count);

  uint32_t m_ = 16, entry_ = 0, max_level_ = 0;
  std::vector<uint8_t> level_;
  // Layer 0: n x (1 + 2m) words, [count, ids...]. Upper layers: per node with
  // level L >= 1, L x (1 + m) words at upper_offset_[node].
  std::vector<uint32_t> layer0_;
  std::vector<uint64_t> upper_offset_;
  std::vector<uint32_t> upper_;
};

}  // namespace vx::hnsw
