#include "core/distance.h"

#include <cpuid.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace vx {
namespace internal {
const KernelTable* ScalarTable();
const KernelTable* Avx2Table();
const KernelTable* Avx512Table();
}  // namespace internal

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

namespace {
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports has no "f16c").
bool HasF16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
}  // namespace

const KernelTable* KernelTableFor(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return internal::ScalarTable();
    case Isa::kAvx2:
      __builtin_cpu_init();
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c()) {
        return internal::Avx2Table();
      }
      return nullptr;
    case Isa::kAvx512:
      __builtin_cpu_init();
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && HasF16c()) {
        return internal::Avx512Table();
      }
      return nullptr;
  }
  return nullptr;
}

namespace {
const KernelTable* ChooseKernels() {
  int cap = static_cast<int>(Isa::kAvx512);
  if (const char* env = std::getenv("VX_KERNELS")) {
    for (int i = 0; i <= cap; ++i) {
      if (std::strcmp(env, IsaName(static_cast<Isa>(i))) == 0) cap = i;
    }
  }
  for (int i = cap; i > 0; --i) {
    if (const KernelTable* t = KernelTableFor(static_cast<Isa>(i))) return t;
  }
  return KernelTableFor(Isa::kScalar);
}
}  // namespace

const KernelTable& ActiveKernels() {
  static const KernelTable* table = ChooseKernels();
  return *table;
}

Result<QueryDistance> QueryDistance::Make(Metric metric, ElementType stored, const float* q, size_t dim,
                                          const KernelTable& kernels) {
  if (dim == 0) return Status::InvalidArgument("query dimension is 0");
  QueryDistance d;
  d.q_ = q;
  d.dim_ = dim;
  double norm_sq = 0;
  for (size_t i = 0; i < dim; ++i) norm_sq += static_cast<double>(q[i]) * q[i];
  if (metric == Metric::kCosine) {
    if (norm_sq == 0) return Status::InvalidArgument("cosine distance of a zero query vector");
    d.q_inv_norm_ = static_cast<float>(1.0 / std::sqrt(norm_sq));
  }
  const auto m = static_cast<size_t>(metric);
  const auto t = static_cast<size_t>(stored);
  d.one_ = kernels.one[m][t];
  d.many_ = kernels.many[m][t];
  return d;
}

}  // namespace vx
