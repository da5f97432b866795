// Distance kernels with runtime SIMD dispatch.
//
// The query is always float32; stored vectors may be f32, f16, u8 or i8. Each
// instruction set has its own translation unit (distance_scalar.cc,
// distance_avx2.cc, distance_avx512.cc) compiled with that ISA's flags; the
// library itself is never built with -march=native. The best set the CPU
// supports is chosen once, at first use. Setting the environment variable
// VX_KERNELS=scalar|avx2|avx512 caps the choice (for benchmarks and bug hunts).
//
// Metric semantics are those of vx/types.h. Thread-safe: tables are immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "vx/status.h"
#include "vx/types.h"

namespace vx {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* IsaName(Isa isa);  // "scalar", "avx2", "avx512"

// One query against one stored vector. `q_inv_norm` is 1/|q| (used by cosine
// only). Cosine against a zero stored vector returns 1 (callers that ingest
// data reject zero vectors before they get here).
using OneFn = float (*)(const float* q, float q_inv_norm, const void* x, size_t dim);
// One query against `n` stored vectors laid out contiguously (row stride = dim).
using ManyFn = void (*)(const float* q, float q_inv_norm, const void* base, size_t dim, size_t n, float* out);

// The exact dot product of d u8 codes and an i8 query (SQ8 scoring: no
// float conversion; AVX-512 VNNI does 64 products an instruction). Exact for
// d <= 65536, so every ISA returns the same value.
using DotU8I8Fn = int32_t (*)(const uint8_t* x, const int8_t* q, size_t d);

struct KernelTable {
  Isa isa;
  OneFn one[3][4];    // [Metric][ElementType]
  ManyFn many[3][4];  // [Metric][ElementType]
  DotU8I8Fn dot_u8_i8;
};

// The table of `isa`, or nullptr when this CPU cannot run it.
const KernelTable* KernelTableFor(Isa isa);
// The table in use: the best supported ISA, capped by VX_KERNELS.
const KernelTable& ActiveKernels();

// A prepared query: the query vector (not copied: it must outlive this
// object) and its norm, bound to the kernels for (metric, stored type).
// Allocates nothing; cheap to build once per query.
class QueryDistance {
 public:
  // InvalidArgument if dim is 0 or the metric is cosine and q is zero.
  static Result<QueryDistance> Make(Metric metric, ElementType stored, const float* q, size_t dim,
                                    const KernelTable& kernels = ActiveKernels());

  float operator()(const void* x) const { return one_(q_, q_inv_norm_, x, dim_); }
  void Many(const void* base, size_t n, float* out) const { many_(q_, q_inv_norm_, base, dim_, n, out); }
  size_t dim() const { return dim_; }

 private:
  QueryDistance() = default;
  const float* q_ = nullptr;
  size_t dim_ = 0;
  float q_inv_norm_ = 0;
  OneFn one_ = nullptr;
  ManyFn many_ = nullptr;
};

}  // namespace vx
