// Factories of the quantizer implementations (one file each).
#pragma once

#include <memory>

#include "quant/quantizer.h"

namespace vx::internal {
std::unique_ptr<Quantizer> NewF16(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewSQ8(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewPQ(const QuantSpec& spec, Metric metric, uint32_t dim);
std::unique_ptr<Quantizer> NewRaBitQ(const QuantSpec& spec, Metric metric, uint32_t dim);
}  // namespace vx::internal
