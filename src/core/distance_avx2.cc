// AVX2 + FMA + F16C kernels. Built with -mavx2 -mfma -mf16c; only called when
// the CPU reports all three. Uses nothing from outside this file that could be
// compiled with these flags and picked by the linker for other code.
#include <immintrin.h>

#include <cstdint>

#include "core/distance.h"

namespace vx::internal {
namespace {

inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 Load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 Load8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 Load8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

inline float ToFloat(float v) { return v; }
inline float ToFloat(uint16_t v) { return _cvtsh_ss(v); }
inline float ToFloat(uint8_t v) { return static_cast<float>(v); }
inline float ToFloat(int8_t v) { return static_cast<float>(v); }

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class T>
float L2Sq(const float* q, const T* x, size_t d) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), Load8(x + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), Load8(x + i + 8));
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
  }
  if (i + 8 <= d) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), Load8(x + i));
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    i += 8;
  }
  float s = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < d; ++i) {
    const float t = q[i] - ToFloat(x[i]);
    s += t * t;
  }
  return s;
}

template <class T>
float Dot(const float* q, const T* x, size_t d) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), Load8(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), Load8(x + i + 8), a1);
  }
  if (i + 8 <= d) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), Load8(x + i), a0);
    i += 8;
  }
  float s = HorizontalSum(_mm256_add_ps(a0, a1));
  for (; i < d; ++i) s += q[i] * ToFloat(x[i]);
  return s;
}

template <class T>
void DotNorm(const float* q, const T* x, size_t d, float* dot, float* norm_sq) {
  __m256 ad = _mm256_setzero_ps(), an = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 v = Load8(x + i);
    ad = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), v, ad);
    an = _mm256_fmadd_ps(v, v, an);
  }
  float s = HorizontalSum(ad), n = HorizontalSum(an);
  for (; i < d; ++i) {
    const float v = ToFloat(x[i]);
    s += q[i] * v;
    n += v * v;
  }
  *dot = s;
  *norm_sq = n;
}

// Widened to 16 bits: madd's pairwise sums (at most 2 x 255 x 128) fit.
int32_t DotU8I8(const uint8_t* x, const int8_t* q, size_t d) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; i < d; ++i) sum += int32_t{x[i]} * q[i];
  return sum;
}

#include "core/distance_table.inc"

}  // namespace

const KernelTable* Avx2Table() {
  static const KernelTable table = MakeTable(Isa::kAvx2);
  return &table;
}

}  // namespace vx::internal
