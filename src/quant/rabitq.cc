// RaBitQ (Gao & Long, SIGMOD 2024), one bit per dimension.
//
// Training: c = the sample mean; P = a random orthogonal D' x D' matrix
// (D' = dim rounded up to a multiple of 8; Gram-Schmidt on a Gaussian matrix).
// Encoding x: r = x - c, o = r/|r|, o' = P o; bit i = [o'_i > 0]. The code also
// keeps |r| and <o_bar, o> = sum|o'_i| / sqrt(D'), where o_bar = (2b - 1)/sqrt(D')
// is the quantized unit vector.
// Estimator: for a unit vector u, <o, u> ~ <o_bar, P u> / <o_bar, o> (unbiased),
// with |error| <= eps0 * sqrt((1 - <o_bar,o>^2) / <o_bar,o>^2) / sqrt(D' - 1)
// with high probability (eps0 = 3; see kEps0). Then
//   l2: |x - q|^2 = |r|^2 + |q - c|^2 - 2 |r| |q - c| <o, (q - c)/|q - c|>
//   ip: <q, x>   = <q, c> + |r| |q| <o, q/|q|>
// <o_bar, P u> is summed with byte lookup tables: for each group of 8
// dimensions, a 256-entry table of (2/sqrt(D')) * sum of the rotated query's
// components whose bits are set, plus a constant -(1/sqrt(D')) sum P u.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <random>

#include "quant/impls.h"

namespace vx::internal {
namespace {

// The error is close to normal with the standard deviation below (eps0 = 1),
// so eps0 = 3 makes the bound hold for ~99.7% of pairs (the paper's 1.9
// covers ~94%; measured here on clustered data: 5% outside at 1.9).
constexpr float kEps0 = 3.0f;

class RaBitQQuantizer : public Quantizer {
 public:
  RaBitQQuantizer(const QuantSpec& spec, Metric metric, uint32_t dim)
      : Quantizer(spec, metric, dim), dp_((dim + 7) / 8 * 8) {}
  size_t code_size() const override { return dp_ / 8 + 8; }

  void Decode(const uint8_t* code, float* out) const override {
    float norm;
    std::memcpy(&norm, code + dp_ / 8, 4);
    const float unit = 1.0f / std::sqrt(static_cast<float>(dp_));
    for (uint32_t j = 0; j < dim_; ++j) {
      double s = 0;  // P^T o_bar
      for (uint32_t i = 0; i < dp_; ++i) {
        const float b = (code[i / 8] >> (i % 8)) & 1 ? unit : -unit;
        s += double{rotation_[uint64_t{i} * dp_ + j]} * b;
      }
      out[j] = center_[j] + norm * static_cast<float>(s);
    }
  }

  float ErrorBound(const PreparedQuery& q, const uint8_t* code) const override {
    float norm, ip_oo;
    std::memcpy(&norm, code + dp_ / 8, 4);
    std::memcpy(&ip_oo, code + dp_ / 8 + 4, 4);
    const float err = kEps0 * std::sqrt(std::max(0.0f, 1.0f - ip_oo * ip_oo) / (ip_oo * ip_oo)) /
                      std::sqrt(static_cast<float>(dp_ - 1));
    const float scale = inner_metric() == Metric::kL2 ? 2.0f * norm * q.scale : norm * q.scale;
    return scale * err;
  }

 protected:
  Status DoTrain(const float* x, uint64_t n, const TrainParams& p) override {
    center_.assign(dim_, 0.0f);
    std::vector<double> sum(dim_, 0.0);
    for (uint64_t r = 0; r < n; ++r) {
      for (uint32_t j = 0; j < dim_; ++j) sum[j] += x[r * dim_ + j];
    }
    for (uint32_t j = 0; j < dim_; ++j) center_[j] = static_cast<float>(sum[j] / n);
    // For ip the estimator works on x - c as well; centering helps both.
    // Random orthogonal rotation: modified Gram-Schmidt on Gaussian rows.
    std::mt19937_64 rng(p.seed ^ 0xB17B17ull);
    std::normal_distribution<double> g;
    std::vector<double> m(uint64_t{dp_} * dp_);
    for (double& v : m) v = g(rng);
    for (uint32_t i = 0; i < dp_; ++i) {
      double* ri = m.data() + uint64_t{i} * dp_;
      for (uint32_t k = 0; k < i; ++k) {
        const double* rk = m.data() + uint64_t{k} * dp_;
        double d = 0;
        for (uint32_t j = 0; j < dp_; ++j) d += ri[j] * rk[j];
        for (uint32_t j = 0; j < dp_; ++j) ri[j] -= d * rk[j];
      }
      double norm = 0;
      for (uint32_t j = 0; j < dp_; ++j) norm += ri[j] * ri[j];
      norm = std::sqrt(norm);
      for (uint32_t j = 0; j < dp_; ++j) ri[j] /= norm;
    }
    rotation_.assign(m.begin(), m.end());
    return Status::Ok();
  }

  // Rotates a unit (or any) vector of dim components, zero-padded to dp_.
  void Rotate(const float* v, float* out) const {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(dp_), static_cast<int>(dim_), 1.0f,
                rotation_.data(), static_cast<int>(dp_), v, 1, 0.0f, out, 1);
  }

  void DoEncode(const float* x, uint8_t* code) const override {
    std::vector<float> o(dim_), rot(dp_);
    double norm = 0;
    for (uint32_t j = 0; j < dim_; ++j) {
      o[j] = x[j] - center_[j];
      norm += double{o[j]} * o[j];
    }
    norm = std::sqrt(norm);
    std::memset(code, 0, dp_ / 8);
    float ip_oo = 1.0f;
    if (norm > 0) {
      for (float& v : o) v = static_cast<float>(v / norm);
      Rotate(o.data(), rot.data());
      double abs_sum = 0;
      for (uint32_t i = 0; i < dp_; ++i) {
        if (rot[i] > 0) code[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
        abs_sum += std::fabs(rot[i]);
      }
      ip_oo = static_cast<float>(abs_sum / std::sqrt(static_cast<double>(dp_)));
    }
    const float n = static_cast<float>(norm);
    std::memcpy(code + dp_ / 8, &n, 4);
    std::memcpy(code + dp_ / 8 + 4, &ip_oo, 4);
  }

  void DoPrepare(const float* q, PreparedQuery* out) const override {
    std::vector<float> u(dim_), rot(dp_);
    double norm = 0, qc = 0;
    const bool l2 = inner_metric() == Metric::kL2;
    for (uint32_t j = 0; j < dim_; ++j) {
      u[j] = l2 ? q[j] - center_[j] : q[j];
      norm += double{u[j]} * u[j];
      qc += double{q[j]} * center_[j];
    }
    norm = std::sqrt(norm);
    out->scale = static_cast<float>(norm);
    out->extra = l2 ? static_cast<float>(norm * norm) : static_cast<float>(qc);
    const uint32_t groups = dp_ / 8;
    out->table.assign(uint64_t{groups} * 256, 0.0f);
    out->bias = 0;
    if (norm == 0) return;
    for (float& v : u) v = static_cast<float>(v / norm);
    Rotate(u.data(), rot.data());
    const float unit = 1.0f / std::sqrt(static_cast<float>(dp_));
    double sum = 0;
    for (uint32_t i = 0; i < dp_; ++i) sum += rot[i];
    out->bias = static_cast<float>(-sum * unit);
    for (uint32_t g = 0; g < groups; ++g) {
      float* t = out->table.data() + uint64_t{g} * 256;
      for (uint32_t v = 1; v < 256; ++v) {
        const uint32_t low = static_cast<uint32_t>(__builtin_ctz(v));
        t[v] = t[v & (v - 1)] + 2.0f * unit * rot[g * 8 + low];
      }
    }
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    const uint32_t groups = dp_ / 8;
    const float* t = q.table.data();
    float s = q.bias;
    for (uint32_t g = 0; g < groups; ++g) s += t[g * 256 + code[g]];
    float norm, ip_oo;
    std::memcpy(&norm, code + groups, 4);
    std::memcpy(&ip_oo, code + groups + 4, 4);
    const float est = s / ip_oo;  // <o, u>
    if (inner_metric() == Metric::kL2) return norm * norm + q.extra - 2.0f * norm * q.scale * est;
    return -(q.extra + norm * q.scale * est);
  }

  void WriteBody(ByteWriter& w) const override {
    w.PutVector(center_);
    w.PutVector(rotation_);
  }
  Status ReadBody(ByteReader& r) override {
    VX_RETURN_IF_ERROR(r.GetVector(&center_, dim_));
    return r.GetVector(&rotation_, uint64_t{dp_} * dp_);
  }

 private:
  uint32_t dp_;
  std::vector<float> center_;    // dim
  std::vector<float> rotation_;  // dp x dp, row-major; only the first dim columns meet data
};

}  // namespace

std::unique_ptr<Quantizer> NewRaBitQ(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new RaBitQQuantizer(spec, metric, dim));
}

}  // namespace vx::internal
