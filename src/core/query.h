// QueryVector: a search's query as every scoring step takes it, prepared
// once: checked (dimension components all finite) and, under cosine, scaled
// to unit length, so that the codes' scoring, IVF's centroid scan and the
// exact rerank all score the same vector and nothing normalises it again.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vx/status.h"
#include "vx/types.h"

namespace vx {

class QueryVector {
 public:
  // InvalidArgument for a NaN or Inf component, or a zero query under cosine.
  Status Prepare(Metric metric, const float* q, uint32_t dim) {
    double s = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      if (!std::isfinite(q[j])) {
        return Status::InvalidArgument("query component " + std::to_string(j) + " is " +
                                       (std::isnan(q[j]) ? "NaN" : "Inf"));
      }
      s += double{q[j]} * q[j];
    }
    if (metric != Metric::kCosine) {
      data_ = q;
      return Status::Ok();
    }
    if (s == 0) return Status::InvalidArgument("cosine distance of a zero query vector");
    const double inv = 1 / std::sqrt(s);
    unit_.resize(dim);
    for (uint32_t j = 0; j < dim; ++j) unit_[j] = static_cast<float>(q[j] * inv);
    data_ = unit_.data();
    return Status::Ok();
  }
  // The prepared query: the caller's (not copied; it must outlive the
  // search) or, under cosine, the unit copy held here.
  const float* data() const { return data_; }

 private:
  std::vector<float> unit_;
  const float* data_ = nullptr;
};

}  // namespace vx
