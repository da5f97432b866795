// f16 (halfvec): each component rounded to IEEE binary16; scored with the
// SIMD f16 kernels against the f32 query.
#include "core/f16.h"
#include "quant/impls.h"

namespace vx::internal {
namespace {

class F16Quantizer : public Quantizer {
 public:
  F16Quantizer(const QuantSpec& spec, Metric metric, uint32_t dim) : Quantizer(spec, metric, dim) {}
  size_t code_size() const override { return size_t{dim_} * 2; }
  void Decode(const uint8_t* code, float* out) const override {
    const auto* h = reinterpret_cast<const uint16_t*>(code);
    for (uint32_t i = 0; i < dim_; ++i) out[i] = HalfToFloat(h[i]);
  }

 protected:
  Status DoTrain(const float*, uint64_t, const TrainParams&) override { return Status::Ok(); }
  void DoEncode(const float* x, uint8_t* code) const override {
    auto* h = reinterpret_cast<uint16_t*>(code);
    for (uint32_t i = 0; i < dim_; ++i) h[i] = FloatToHalf(x[i]);
  }
  void DoPrepare(const float* q, PreparedQuery* out) const override { out->table.assign(q, q + dim_); }
  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    return kernels_->one[static_cast<int>(inner_metric())][static_cast<int>(ElementType::kF16)](q.table.data(), 0, code,
                                                                                                dim_);
  }
  bool has_block_kernel() const override { return true; }
  void DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const override {
    kernels_->many[static_cast<int>(inner_metric())][static_cast<int>(ElementType::kF16)](q.table.data(), 0, codes,
                                                                                          dim_, n, out);
  }
  void WriteBody(ByteWriter&) const override {}
  Status ReadBody(ByteReader&) override { return Status::Ok(); }
};

}  // namespace

std::unique_ptr<Quantizer> NewF16(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new F16Quantizer(spec, metric, dim));
}

}  // namespace vx::internal
