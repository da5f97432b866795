// Deterministic synthetic vectors that look more like embeddings than uniform
// noise does: a Gaussian mixture with uneven (Zipf-like) cluster sizes and
// anisotropic clusters (a random low-rank direction set plus per-dimension
// scales per cluster). Vector i of a stream depends only on (seed, stream, i),
// so any slice can be generated independently, in parallel, streamed to disk.
#pragma once

#include <cstdint>
#include <vector>

namespace vx {

struct SynthParams {
  uint32_t dim = 128;
  uint32_t clusters = 64;
  uint64_t seed = 42;
  bool normalize = false;  // scale each vector to unit length (for cosine/ip sets)
};

class SyntheticGenerator {
 public:
  // Base vectors are stream 0, queries stream 1: same distribution, disjoint draws.
  static constexpr uint64_t kBaseStream = 0;
  static constexpr uint64_t kQueryStream = 1;

  explicit SyntheticGenerator(const SynthParams& params);

  // Writes vectors [first, first + n) of `stream`, row-major, into out.
  void Generate(uint64_t stream, uint64_t first, uint64_t n, float* out) const;
  // The cluster vector i of `stream` is drawn from (for tests).
  uint32_t ClusterOf(uint64_t stream, uint64_t i) const;

 private:
  static constexpr uint32_t kRank = 8;  // low-rank directions per cluster
  SynthParams params_;
  uint32_t rank_;
  std::vector<double> cumulative_weight_;  // clusters, ends at 1
  std::vector<float> centers_;             // clusters x dim
  std::vector<float> directions_;          // clusters x rank x dim
  std::vector<float> scales_;              // clusters x dim (per-dimension noise std)
};

}  // namespace vx
