// Factories of the quantizer implementations (one file each).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/quantizer.h"

namespace vx::internal {
std::unique_ptr<Quantizer> NewF16(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewSQ8(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewPQ(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewRaBitQ(const QuantSpec& spec, Metric metric, uint32_t dim);

// Byte lookup-table sums (PQ and RaBitQ scoring): out[i] = sum over j < m of
// table[j * 256 + code_i[j]], code i starting at codes + i * stride, added in
// j order. Four codes at a time: independent sums keep the loads in flight.
// (AVX2 and AVX-512 gathers were measured slower than this loop on Zen 4:
// docs/BENCHMARKS.md.)
inline float LutSum(const float* table, const uint8_t* code, size_t m) {
  float sum = 0;
  for (size_t j = 0; j < m; ++j) sum += table[j * 256 + code[j]];
  return sum;
}
inline void LutSums(const float* table, const uint8_t* codes, size_t stride, size_t m, size_t n, float* out) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t* c = codes + i * stride;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t j = 0; j < m; ++j) {
      const float* t = table + j * 256;
      s0 += t[c[j]];
      s1 += t[c[stride + j]];
      s2 += t[c[2 * stride + j]];
      s3 += t[c[3 * stride + j]];
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; ++i) out[i] = LutSum(table, codes + i * stride, m);
}

// pq4 scores: out[i] = bias + scale x (the sum over the code_size bytes j of
// code i of lut8[32 j + low nibble] + lut8[32 j + 16 + high nibble]), with
// 16-byte 8-bit tables, two subspaces a byte. The sum is an integer, so both
// versions give the same floats. The AVX2 one needs a CPU with AVX2.
void Pq4Scores(const uint8_t* lut8, const uint8_t* codes, size_t code_size, size_t n, float bias, float scale,
               float* out);
void Pq4ScoresAvx2(const uint8_t* lut8, const uint8_t* codes, size_t code_size, size_t n, float bias, float scale,
                   float* out);
}  // namespace vx::internal
