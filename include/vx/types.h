// Element types and metrics, with pgvector's names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vx/status.h"

#pragma GCC visibility push(default)  // libvx.so exports what this header declares
namespace vx {

// How one vector component is stored.
enum class ElementType : uint8_t {
  kF32 = 0,  // float32 ("vector")
  kF16 = 1,  // IEEE binary16 ("halfvec")
  kU8 = 2,   // uint8 (BIGANN-style descriptors)
  kI8 = 3,   // int8
};

size_t ElementSize(ElementType t);
const char* ElementTypeName(ElementType t);  // "f32", "f16", "u8", "i8"
Result<ElementType> ParseElementType(std::string_view name);

// Distance semantics (smaller is always nearer):
//   l2      squared Euclidean distance  sum((q_i - x_i)^2)
//           (monotone in pgvector's <->, which is its square root)
//   ip      negative inner product      -sum(q_i * x_i)   (pgvector's <#>)
//   cosine  1 - cos(q, x) in [0, 2]                        (pgvector's <=>)
// Cosine is undefined for a zero vector: a zero query or base vector is
// rejected with InvalidArgument rather than given an arbitrary distance.
enum class Metric : uint8_t {
  kL2 = 0,
  kInnerProduct = 1,
  kCosine = 2,
};

const char* MetricName(Metric m);  // "l2", "ip", "cosine"
Result<Metric> ParseMetric(std::string_view name);

}  // namespace vx
#pragma GCC visibility pop
