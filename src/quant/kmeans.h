// k-means for PQ codebooks and IVF lists.
//
//   1. Seeding: k-means++ on a sample of at most 32*k points (seeded RNG).
//   2. Lloyd iterations on at most `max_train_points` sampled points: the
//      assignment step uses OpenBLAS sgemm in row blocks on all threads; the
//      update step groups points by cluster and sums each cluster's members
//      in index order (clusters in parallel), so the result depends only on
//      the seed, not on the thread count. Scratch: O(n + k * dim).
//   3. An empty cluster is re-seeded next to the largest one's centroid
//      (which stays), so the objective never rises.
//   4. Optionally (balanced), every assignment caps each cluster at
//      ceil(balance_factor * n / k) points, moving the points that lose the
//      least to their next-nearest cluster with room (of their 8 nearest),
//      so centroids settle where sizes are even. (The objective may then rise.)
// Thread-safe: no shared state.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "vx/status.h"

namespace vx {

struct KMeansParams {
  uint32_t k = 256;
  uint32_t iterations = 20;
  uint64_t seed = 1234;
  uint64_t max_train_points = 256 * 256;  // sample size for Lloyd iterations
  int threads = 0;                        // 0: all cores
  // Called after each iteration with (done, iterations). Optional.
  std::function<void(uint32_t, uint32_t)> progress;
  // Checked after each iteration: once set, KMeans returns Cancelled. Optional.
  const std::atomic<bool>* cancel = nullptr;
  bool balanced = false;
  float balance_factor = 1.2f;  // max cluster size = factor * n / k (balanced only)
};

struct KMeansResult {
  std::vector<float> centroids;   // k x dim
  std::vector<double> objective;  // sum of squared distances to the assigned centroid, per iteration
};

// Trains k centroids on n rows of dim floats. InvalidArgument if n < k;
// Cancelled when p.cancel is set.
Result<KMeansResult> KMeans(const float* data, uint64_t n, uint32_t dim, const KMeansParams& params);

// For each of n rows, the nearest of k centroids (ties to the lower index)
// and its squared distance. Blocked sgemm on `threads` threads.
void AssignNearest(const float* data, uint64_t n, const float* centroids, uint32_t k, uint32_t dim, int threads,
                   int32_t* assign, float* dist);

// The `top` nearest centroids of each row, nearest first (n x top each).
// Distance: squared l2, or with inner_product the negated dot product.
void AssignTopNearest(const float* data, uint64_t n, const float* centroids, uint32_t k, uint32_t dim, uint32_t top,
                      int threads, int32_t* assign, float* dist, bool inner_product = false);

// Caps cluster sizes at `cap`, moving points to their next choice in
// `candidates` (n x top, nearest first, with distances). Updates assign.
void BalanceAssignment(uint64_t n, uint32_t k, uint32_t top, const int32_t* candidates, const float* cand_dist,
                       uint64_t cap, int32_t* assign);

}  // namespace vx
