// Exact k-nearest-neighbour search by blocked brute force: the ground truth
// every recall figure in vx is measured against.
//
// The base is streamed from its file in blocks (so it may exceed RAM); the
// queries are held in memory. For each block, dot products come from OpenBLAS
// sgemm on all threads; a candidate whose sgemm distance is within the sgemm
// error bound of a query's current k-th distance is then re-scored with the
// SIMD kernel, and only kernel distances enter the results. Results are thus
// the kernel's distances, ties broken by the lower id.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/dataset.h"
#include "vx/status.h"
#include "vx/types.h"

namespace vx {

struct ExactSearchParams {
  Metric metric = Metric::kL2;
  uint32_t k = 100;
  int threads = 0;                     // 0: all cores
  uint64_t memory_bytes = 1ull << 30;  // budget for base blocks in flight
  // Called after each block with (base rows done, base rows total). Optional.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct ExactResult {
  uint64_t num_queries = 0;
  uint32_t k = 0;
  std::vector<int32_t> ids;  // num_queries x k, nearest first
  std::vector<float> dists;  // the matching distances (vx/types.h semantics)
};

// Reads `base` from its current position to the end. InvalidArgument if the
// dimensions differ, k is 0 or exceeds the base size, the base has more rows
// than int32 ids can name, or (cosine) a query or base vector is zero.
Result<ExactResult> ExactSearch(VectorReader& base, const FloatMatrix& queries, const ExactSearchParams& params);

}  // namespace vx
