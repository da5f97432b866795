// The in-memory HNSW build (hnsw/graph.h): every node reachable on layer 0.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hnsw/graph.h"

namespace vx::hnsw {
namespace {

// Nodes a walk of layer 0 from the entry never reaches.
uint32_t Unreachable(const Graph& g) {
  std::vector<uint8_t> seen(g.size(), 0);
  std::vector<uint32_t> stack = {g.entry()};
  seen[g.entry()] = 1;
  uint32_t reached = 1;
  while (!stack.empty()) {
    const uint32_t v = stack.back();
    stack.pop_back();
    for (uint32_t u : g.Neighbors(v, 0)) {
      if (!seen[u]) {
        seen[u] = 1;
        ++reached;
        stack.push_back(u);
      }
    }
  }
  return g.size() - reached;
}

// On Gaussian 32-d data the neighbour heuristic strips some nodes of every
// in-link (no search could return them); the build links them back in, on
// one thread and on two.
TEST(HnswGraph, EveryNodeIsReachableOnLayerZero) {
  constexpr uint32_t kRows = 8000, kDim = 32;
  std::vector<float> data(uint64_t{kRows} * kDim);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal;
  for (float& x : data) x = normal(rng);
  GraphParams p;
  p.threads = 1;
  p.reconnect = false;
  const uint32_t orphans = Unreachable(Graph::Build(data.data(), kRows, kDim, Metric::kL2, p));
  ASSERT_GT(orphans, 0u) << "the premise: this set leaves nodes unreachable without the repair";
  for (int threads : {1, 2}) {
    p.threads = threads;
    p.reconnect = true;
    EXPECT_EQ(Unreachable(Graph::Build(data.data(), kRows, kDim, Metric::kL2, p)), 0u) << threads << " threads";
  }
}

}  // namespace
}  // namespace vx::hnsw
