// SQ8: per-dimension ranges [min_i, max_i] learned from the sample; component
// i is stored as round((x_i - min_i) / scale_i), scale_i = (max_i - min_i)/255.
//
// Scoring: with x^_i = min_i + scale_i * c_i,
//   <q, x^> = sum q_i min_i + sum (q_i scale_i) c_i       (bias + u8 dot)
// and the u8 dot is taken in integers: t_i = q_i scale_i is rounded to i8
// units of max|t_i| / 127 once per query, then summed exactly against the
// codes (KernelTable::dot_u8_i8; VNNI where the CPU has it). The rounding
// moves a score by at most half a unit per code byte; the rerank is exact.
//   |q - x^|^2 = |q|^2 - 2 <q, x^> + |x^|^2
// so an l2 code carries |x^|^2 as 4 extra bytes after the dim code bytes.
//
// Error bound, for the rerank to skip candidates that cannot be among the
// k nearest (as RaBitQ's does): a component trained in range is off by
// e_i, at most scale_i / 2, and the e_i of a row behave as independent
// uniform errors, so with x = x^ + e
//   ip:  exact - est = -<q, e>,              sd sqrt(sum q_i^2 scale_i^2 / 12)
//   l2:  exact - est = 2 <x^ - q, e> + |e|^2, sd 2 sqrt(sum (x^_i - q_i)^2 scale_i^2 / 12)
//        <= 2 max scale_i |x^ - q| / sqrt(12), and 0 <= |e|^2 <= sum scale_i^2 / 4
// The bound is kBoundSigmas standard deviations (ip: capped by the worst
// case sum |q_i| scale_i / 2), plus this row's exact query rounding. Rows outside
// the trained ranges (IVF trains on a sample) are clamped and may exceed
// it: like RaBitQ's, it holds with high probability, not always.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/impls.h"

namespace vx::internal {
namespace {

constexpr float kBoundSigmas = 4;

class SQ8Quantizer : public Quantizer {
 public:
  SQ8Quantizer(const QuantSpec& spec, Metric metric, uint32_t dim) : Quantizer(spec, metric, dim) {}
  size_t code_size() const override { return dim_ + (has_norm() ? 4 : 0); }
  void Decode(const uint8_t* code, float* out) const override {
    for (uint32_t i = 0; i < dim_; ++i) out[i] = min_[i] + scale_[i] * code[i];
  }
  bool has_error_bound() const override { return true; }

  // Two kernel calls a candidate: IVF bounds every entry it admits. q.table
  // is the scaled query t_i = q_i scale_i; q.scale the ip bound (l2's
  // depends on the row's distance).
  float ErrorBound(const PreparedQuery& q, const uint8_t* code) const override {
    const OneFn float_dot = kernels_->one[static_cast<int>(Metric::kInnerProduct)][static_cast<int>(ElementType::kU8)];
    const double exact_dot = -double{float_dot(q.table.data(), 0, code, dim_)};  // the kernel returns -dot
    const double rounding =
        std::fabs(double{q.q8_scale} * static_cast<double>(kernels_->dot_u8_i8(code, q.q8.data(), dim_)) - exact_dot);
    if (!has_norm()) return static_cast<float>(rounding + q.scale);
    // |x^ - q|^2, from the exact dot; sum (x^_i - q_i)^2 scale_i^2 is at most
    // that times the largest scale_i^2.
    float norm;
    std::memcpy(&norm, code + dim_, 4);
    const double dist = std::max(0.0, q.extra - 2 * (q.bias + exact_dot) + norm);
    const double spread = kBoundSigmas * 2 * max_scale_ * std::sqrt(dist / 12);
    return static_cast<float>(2 * rounding + spread + err_sq_max_);
  }

 protected:
  bool has_norm() const { return inner_metric() == Metric::kL2; }

  Status DoTrain(const float* x, uint64_t n, const TrainParams&) override {
    min_.assign(dim_, INFINITY);
    std::vector<float> max(dim_, -INFINITY);
    for (uint64_t r = 0; r < n; ++r) {
      for (uint32_t i = 0; i < dim_; ++i) {
        min_[i] = std::min(min_[i], x[r * dim_ + i]);
        max[i] = std::max(max[i], x[r * dim_ + i]);
      }
    }
    scale_.resize(dim_);
    for (uint32_t i = 0; i < dim_; ++i) scale_[i] = (max[i] - min_[i]) / 255.0f;
    SetErrSqMax();
    return Status::Ok();
  }

  void SetErrSqMax() {
    err_sq_max_ = max_scale_ = 0;
    for (float sc : scale_) {
      err_sq_max_ += sc * sc / 4;
      max_scale_ = std::max<double>(max_scale_, sc);
    }
  }

  void DoEncode(const float* x, uint8_t* code) const override {
    float norm = 0;
    for (uint32_t i = 0; i < dim_; ++i) {
      const float v = scale_[i] > 0 ? std::nearbyint((x[i] - min_[i]) / scale_[i]) : 0.0f;
      code[i] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
      const float rec = min_[i] + scale_[i] * code[i];
      norm += rec * rec;
    }
    if (has_norm()) std::memcpy(code + dim_, &norm, 4);
  }

  void DoPrepare(const float* q, PreparedQuery* out) const override {
    double bias = 0, norm = 0;
    float max_abs = 0;
    for (uint32_t i = 0; i < dim_; ++i) {
      bias += double{q[i]} * min_[i];
      norm += double{q[i]} * q[i];
      max_abs = std::max(max_abs, std::fabs(q[i] * scale_[i]));
    }
    out->bias = static_cast<float>(bias);
    out->extra = static_cast<float>(norm);
    out->q8_scale = max_abs > 0 ? max_abs / 127 : 1.0f;
    out->q8.resize(dim_);
    out->table.resize(dim_);
    double var = 0, worst = 0;
    for (uint32_t i = 0; i < dim_; ++i) {
      const float t = q[i] * scale_[i];
      out->q8[i] = static_cast<int8_t>(std::clamp(std::nearbyint(t / out->q8_scale), -127.0f, 127.0f));
      out->table[i] = t;
      var += double{t} * t;
      worst += std::fabs(t) / 2;
    }
    out->scale = static_cast<float>(std::min(kBoundSigmas * std::sqrt(var / 12), worst));
  }

  float FromDot(const PreparedQuery& q, float neg_dot, const uint8_t* code) const {
    const float ip = q.bias - neg_dot;  // the kernel returns -dot
    if (!has_norm()) return -ip;
    float norm;
    std::memcpy(&norm, code + dim_, 4);
    return q.extra - 2.0f * ip + norm;
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    const float dot = q.q8_scale * static_cast<float>(kernels_->dot_u8_i8(code, q.q8.data(), dim_));
    return FromDot(q, -dot, code);
  }

  void WriteBody(ByteWriter& w) const override {
    w.PutVector(min_);
    w.PutVector(scale_);
  }
  Status ReadBody(ByteReader& r) override {
    VX_RETURN_IF_ERROR(r.GetVector(&min_, dim_));
    VX_RETURN_IF_ERROR(r.GetVector(&scale_, dim_));
    SetErrSqMax();
    return Status::Ok();
  }

 private:
  std::vector<float> min_, scale_;
  double err_sq_max_ = 0;  // the largest |e|^2: sum scale_i^2 / 4
  double max_scale_ = 0;
};

}  // namespace

std::unique_ptr<Quantizer> NewSQ8(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new SQ8Quantizer(spec, metric, dim));
}

}  // namespace vx::internal
