// Neighbour selection, the one rule that building, inserting into and
// repairing an HNSW graph share: the HNSW heuristic (Malkov & Yashunin,
// algorithm 4) keeps a candidate only if it is nearer to the base node than
// to every neighbour already kept, so that a list spans directions rather
// than crowding one (diversity over pure proximity).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hnsw/graph.h"

namespace vx::hnsw {

// Up to `max` of `sorted` (the base's candidates, nearest first), chosen by
// the heuristic, into `kept`. dist(a, b) is the distance between nodes a and b.
template <class DistFn>
void SelectNeighbors(std::span<const Candidate> sorted, uint32_t max, DistFn&& dist, std::vector<uint32_t>& kept) {
  kept.clear();
  for (const Candidate& c : sorted) {
    if (kept.size() >= max) break;
    bool diverse = true;
    for (uint32_t r : kept) {
      if (dist(c.id, r) < c.dist) {
        diverse = false;
        break;
      }
    }
    if (diverse) kept.push_back(c.id);
  }
}

}  // namespace vx::hnsw
