// AVX-512 (F, BW, VL, DQ) + F16C kernels. Built with those flags; only called
// when the CPU reports them. Tails use masked loads, so there is no scalar loop.
#include <cpuid.h>
#include <immintrin.h>

#include <cstdint>

#include "core/distance.h"

namespace vx::internal {
namespace {

inline __mmask16 TailMask(size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 Load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 Load16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 Load16(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

inline __m512 LoadMasked(__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 LoadMasked(__mmask16 m, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
inline __m512 LoadMasked(__mmask16 m, const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)));
}
inline __m512 LoadMasked(__mmask16 m, const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

template <class T>
float L2Sq(const float* q, const T* x, size_t d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), Load16(x + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), Load16(x + i + 16));
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
  }
  for (; i < d; i += 16) {
    const __mmask16 m = d - i >= 16 ? __mmask16(0xFFFF) : TailMask(d - i);
    const __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), LoadMasked(m, x + i));
    a0 = _mm512_fmadd_ps(d0, d0, a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

template <class T>
float Dot(const float* q, const T* x, size_t d) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), Load16(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), Load16(x + i + 16), a1);
  }
  for (; i < d; i += 16) {
    const __mmask16 m = d - i >= 16 ? __mmask16(0xFFFF) : TailMask(d - i);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), LoadMasked(m, x + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

template <class T>
void DotNorm(const float* q, const T* x, size_t d, float* dot, float* norm_sq) {
  __m512 ad = _mm512_setzero_ps(), an = _mm512_setzero_ps();
  for (size_t i = 0; i < d; i += 16) {
    const __mmask16 m = d - i >= 16 ? __mmask16(0xFFFF) : TailMask(d - i);
    const __m512 v = LoadMasked(m, x + i);
    ad = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), v, ad);
    an = _mm512_fmadd_ps(v, v, an);
  }
  *dot = _mm512_reduce_add_ps(ad);
  *norm_sq = _mm512_reduce_add_ps(an);
}

// Without VNNI: widened to 16 bits, 32 products a step.
int32_t DotU8I8(const uint8_t* x, const int8_t* q, size_t d) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < d; i += 32) {
    const __mmask32 m = d - i >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (d - i)) - 1u);
    const __m512i a = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, x + i));
    const __m512i b = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, q + i));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
  }
  return _mm512_reduce_add_epi32(acc);
}

// VNNI: vpdpbusd, 64 u8 x i8 products summed in fours into 16 lanes a step.
// Only this function is built for VNNI; the table uses it when CPUID says so.
__attribute__((target("avx512vnni"))) int32_t DotU8I8Vnni(const uint8_t* x, const int8_t* q, size_t d) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < d; i += 64) {
    const __mmask64 m = d - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (d - i)) - 1u;
    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, x + i), _mm512_maskz_loadu_epi8(m, q + i));
  }
  return _mm512_reduce_add_epi32(acc);
}

bool HasVnni() {
  unsigned a, b, c, d;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & bit_AVX512VNNI) != 0;
}

#include "core/distance_table.inc"

}  // namespace

const KernelTable* Avx512Table() {
  static const KernelTable table = [] {
    KernelTable t = MakeTable(Isa::kAvx512);
    if (HasVnni()) t.dot_u8_i8 = DotU8I8Vnni;
    return t;
  }();
  return &table;
}

}  // namespace vx::internal
