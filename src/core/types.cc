#include "vx/types.h"

#include <string>

namespace vx {

size_t ElementSize(ElementType t) {
  switch (t) {
    case ElementType::kF32:
      return 4;
    case ElementType::kF16:
      return 2;
    case ElementType::kU8:
      return 1;
    case ElementType::kI8:
      return 1;
  }
  return 0;
}

const char* ElementTypeName(ElementType t) {
  switch (t) {
    case ElementType::kF32:
      return "f32";
    case ElementType::kF16:
      return "f16";
    case ElementType::kU8:
      return "u8";
    case ElementType::kI8:
      return "i8";
  }
  return "?";
}

Result<ElementType> ParseElementType(std::string_view name) {
  if (name == "f32" || name == "float32") return ElementType::kF32;
  if (name == "f16" || name == "float16" || name == "halfvec") return ElementType::kF16;
  if (name == "u8" || name == "uint8") return ElementType::kU8;
  if (name == "i8" || name == "int8") return ElementType::kI8;
  return Status::InvalidArgument("unknown element type '" + std::string(name) + "' (expected f32, f16, u8 or i8)");
}

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kL2:
      return "l2";
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
  }
  return "?";
}

Result<Metric> ParseMetric(std::string_view name) {
  if (name == "l2") return Metric::kL2;
  if (name == "ip") return Metric::kInnerProduct;
  if (name == "cosine") return Metric::kCosine;
  return Status::InvalidArgument("unknown metric '" + std::string(name) + "' (expected l2, ip or cosine)");
}

}  // namespace vx
