// pq4 fast scan with AVX2 (built with -mavx2; called only when the CPU has
// it). Codes stay in their row-major layout: each block of 32 codes is
// transposed in registers, 16 bytes at a time, so that one register holds
// byte j of all 32 codes; a 16-byte shuffle then looks up 32 subspace
// entries at once. Sums are kept in 16 bits (at most 2 x 255 a byte, so 128
// bytes fit) and carried into 32 bits every 128 bytes; a code's estimate is
// bias + scale x sum, as in the scalar Pq4Scores.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quant/impls.h"

namespace vx::internal {
namespace {

// 16 x 16 byte transpose in each 128-bit lane: in[r] holds row r (lane 0:
// code r, lane 1: code r + 16); out[j] holds byte j of those 16 rows.
inline void Transpose16(const __m256i in[16], __m256i out[16]) {
  __m256i b[16], c[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = _mm256_unpacklo_epi8(in[2 * i], in[2 * i + 1]);      // bytes 0-7 of rows 2i, 2i+1
    b[i + 8] = _mm256_unpackhi_epi8(in[2 * i], in[2 * i + 1]);  // bytes 8-15
  }
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 4; ++i) {
      c[8 * h + i] = _mm256_unpacklo_epi16(b[8 * h + 2 * i], b[8 * h + 2 * i + 1]);      // 4 bytes, rows 4i..4i+3
      c[8 * h + i + 4] = _mm256_unpackhi_epi16(b[8 * h + 2 * i], b[8 * h + 2 * i + 1]);  // the next 4 bytes
    }
  }
  for (int g = 0; g < 4; ++g) {  // bytes 4g..4g+3
    const __m256i* cg = c + 4 * g;
    const __m256i d0 = _mm256_unpacklo_epi32(cg[0], cg[1]), d1 = _mm256_unpackhi_epi32(cg[0], cg[1]);
    const __m256i e0 = _mm256_unpacklo_epi32(cg[2], cg[3]), e1 = _mm256_unpackhi_epi32(cg[2], cg[3]);
    out[4 * g] = _mm256_unpacklo_epi64(d0, e0);
    out[4 * g + 1] = _mm256_unpackhi_epi64(d0, e0);
    out[4 * g + 2] = _mm256_unpacklo_epi64(d1, e1);
    out[4 * g + 3] = _mm256_unpackhi_epi64(d1, e1);
  }
}

}  // namespace

void Pq4ScoresAvx2(const uint8_t* lut8, const uint8_t* codes, size_t code_size, size_t n, float bias, float scale,
                   float* out) {
  const __m256 vbias = _mm256_set1_ps(bias), vscale = _mm256_set1_ps(scale);
  const size_t width = (code_size + 15) / 16 * 16;  // bytes a code takes in the block buffer
  alignas(32) uint8_t block[32 * 16];
  const __m256i low4 = _mm256_set1_epi8(0x0F), low8 = _mm256_set1_epi16(0x00FF);
  for (size_t i0 = 0; i0 < n; i0 += 32) {
    const size_t rows = std::min<size_t>(32, n - i0);
    // 32-bit sums in code order; lanes of 8: codes 0-7, 8-15, 16-23, 24-31.
    __m256i total[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();  // codes 2e / 2e + 1, 16 bits
    for (size_t chunk = 0; chunk < width; chunk += 16) {
      // The block's bytes chunk..chunk+15: straight from the codes when all
      // 16 lie inside each of 32 codes; else through a buffer, zero past a
      // code's end and for codes past n (zeros add 0 and are not reported).
      const size_t take = std::min<size_t>(16, code_size - chunk);
      const uint8_t* src = codes + i0 * code_size + chunk;
      size_t stride = code_size;
      if (take < 16 || rows < 32) {
        std::memset(block, 0, sizeof block);
        for (size_t r = 0; r < rows; ++r) std::memcpy(block + 16 * r, src + r * code_size, take);
        src = block;
        stride = 16;
      }
      __m256i in[16], col[16];
      for (size_t r = 0; r < 16; ++r) {
        in[r] = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + stride * r))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + stride * (r + 16))), 1);
      }
      Transpose16(in, col);
      for (size_t j = 0; j < take; ++j) {
        const uint8_t* t = lut8 + 32 * (chunk + j);
        const __m256i lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
        const __m256i hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 16)));
        const __m256i lo = _mm256_shuffle_epi8(lo_t, _mm256_and_si256(col[j], low4));
        const __m256i hi = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(col[j], 4), low4));
        even = _mm256_add_epi16(even, _mm256_add_epi16(_mm256_and_si256(lo, low8), _mm256_and_si256(hi, low8)));
        odd = _mm256_add_epi16(odd, _mm256_add_epi16(_mm256_srli_epi16(lo, 8), _mm256_srli_epi16(hi, 8)));
      }
      if ((chunk + 16) % 128 == 0 || chunk + 16 >= width) {  // carry before 16 bits could overflow
        // unpacklo: codes 0-7 (lane 0) and 16-23 (lane 1); unpackhi: 8-15, 24-31.
        const __m256i lo = _mm256_unpacklo_epi16(even, odd), hi = _mm256_unpackhi_epi16(even, odd);
        total[0] = _mm256_add_epi32(total[0], _mm256_cvtepu16_epi32(_mm256_castsi256_si128(lo)));
        total[1] = _mm256_add_epi32(total[1], _mm256_cvtepu16_epi32(_mm256_castsi256_si128(hi)));
        total[2] = _mm256_add_epi32(total[2], _mm256_cvtepu16_epi32(_mm256_extracti128_si256(lo, 1)));
        total[3] = _mm256_add_epi32(total[3], _mm256_cvtepu16_epi32(_mm256_extracti128_si256(hi, 1)));
        even = odd = _mm256_setzero_si256();
      }
    }
    // bias + scale x sum, multiplied then added as the scalar code does.
    alignas(32) float scores[32];
    for (int g = 0; g < 4; ++g) {
      _mm256_store_ps(scores + 8 * g, _mm256_add_ps(vbias, _mm256_mul_ps(vscale, _mm256_cvtepi32_ps(total[g]))));
    }
    std::copy(scores, scores + rows, out + i0);
  }
}

}  // namespace vx::internal
