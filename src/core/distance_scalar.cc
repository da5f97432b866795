// Portable kernels: the fallback on CPUs without AVX2, and the reference the
// SIMD sets are tested against (besides a double-precision one in the tests).
#include <cstdint>

#include "core/distance.h"
#include "core/f16.h"

namespace vx::internal {
namespace {

inline float ToFloat(float v) { return v; }
inline float ToFloat(uint16_t v) { return HalfToFloat(v); }
inline float ToFloat(uint8_t v) { return static_cast<float>(v); }
inline float ToFloat(int8_t v) { return static_cast<float>(v); }

template <class T>
float L2Sq(const float* q, const T* x, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) {
    const float t = q[i] - ToFloat(x[i]);
    s += t * t;
  }
  return s;
}

template <class T>
float Dot(const float* q, const T* x, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) s += q[i] * ToFloat(x[i]);
  return s;
}

template <class T>
void DotNorm(const float* q, const T* x, size_t d, float* dot, float* norm_sq) {
  float s = 0, n = 0;
  for (size_t i = 0; i < d; ++i) {
    const float v = ToFloat(x[i]);
    s += q[i] * v;
    n += v * v;
  }
  *dot = s;
  *norm_sq = n;
}

int32_t DotU8I8(const uint8_t* x, const int8_t* q, size_t d) {
  int32_t s = 0;
  for (size_t i = 0; i < d; ++i) s += int32_t{x[i]} * q[i];
  return s;
}

#include "core/distance_table.inc"

}  // namespace

const KernelTable* ScalarTable() {
  static const KernelTable table = MakeTable(Isa::kScalar);
  return &table;
}

}  // namespace vx::internal
