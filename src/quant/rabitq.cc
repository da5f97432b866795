// RaBitQ (Gao & Long, SIGMOD 2024) with B bits per dimension; B > 1 is
// extended RaBitQ (Gao et al., SIGMOD 2025), in a simplified form.
//
// Training: c = the sample mean; P = a random orthogonal D' x D' matrix
// (D' = dim rounded up to a multiple of 8; Gram-Schmidt on a Gaussian matrix).
// Encoding x: r = x - c, o = r/|r|, o' = P o. Each o'_i becomes a level
// k_i in [0, 2^B) of a uniform grid centred on 0, u_i = k_i + 1/2 - 2^(B-1),
// at the grid scale (searched per vector) that maximises <u/|u|, o'>. B = 1
// is the sign bit. o_bar = u/|u| is the quantized unit vector. The code keeps
// the levels as B bit planes, |r|, <o_bar, o'> and (B > 1) 1/|u|.
// Estimator: for a unit vector v, <o, v> ~ <o_bar, P v> / <o_bar, o'>
// (unbiased), with |error| <= eps0 * sqrt((1 - <o_bar,o'>^2) / <o_bar,o'>^2) /
// sqrt(D' - 1) with high probability (eps0 = 3; see kEps0). Then
//   l2: |x - q|^2 = |r|^2 + |q - c|^2 - 2 |r| |q - c| <o, (q - c)/|q - c|>
//   ip: <q, x>   = <q, c> + |r| |q| <o, q/|q|>
// <u, P v> = sum_b 2^b <plane_b, P v> + (1/2 - 2^(B-1)) sum_i (P v)_i, and each
// plane's dot product is summed with byte lookup tables: for each group of 8
// dimensions, a 256-entry table of the sums of the rotated query's components
// whose bits are set.
#include <cblas.h>

#include <algorithm>
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
      : Quantizer(spec, metric, dim),
        dp_((dim + 7) / 8 * 8),
        bits_(spec.bits),
        offset_(0.5f - static_cast<float>(1u << (spec.bits - 1))),
        sign_inv_unorm_(2.0f / std::sqrt(static_cast<float>(dp_))),
        eps_scale_(kEps0 / std::sqrt(static_cast<float>(dp_ - 1))) {}
  size_t code_size() const override { return FactorsAt() + (bits_ > 1 ? 12 : 8); }

  void Decode(const uint8_t* code, float* out) const override {
    const Factors f = ReadFactors(code);
    std::vector<float> o_bar(dp_);
    for (uint32_t i = 0; i < dp_; ++i) o_bar[i] = (static_cast<float>(Level(code, i)) + offset_) * f.inv_unorm;
    for (uint32_t j = 0; j < dim_; ++j) {
      double s = 0;  // P^T o_bar
      for (uint32_t i = 0; i < dp_; ++i) s += double{rotation_[uint64_t{i} * dp_ + j]} * o_bar[i];
      out[j] = center_[j] + f.norm * static_cast<float>(s);
    }
  }

  bool has_error_bound() const override { return true; }
  float ErrorBound(const PreparedQuery& q, const uint8_t* code) const override {
    const Factors f = ReadFactors(code);
    const float norm = f.norm, ip_oo = f.ip_oo;
    const float err = eps_scale_ * std::sqrt(std::max(0.0f, 1.0f - ip_oo * ip_oo) / (ip_oo * ip_oo));
    const float scale = inner_metric() == Metric::kL2 ? 2.0f * norm * q.scale : norm * q.scale;
    return scale * err;
  }

 protected:
  Status DoTrain(const float* x, uint64_t n, const TrainParams& p) override {
    openblas_set_num_threads(1);  // Encode's blocks run on vx's threads, each one sgemm
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
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(dp_), static_cast<int>(dim_), 1.0f, rotation_.data(),
                static_cast<int>(dp_), v, 1, 0.0f, out, 1);
  }

  void DoEncode(const float* x, uint8_t* code) const override { DoEncodeBlock(x, 1, code); }

  // The residuals of a block of rows, normalised, rotated as one matrix
  // product (a row at a time streams the whole rotation per row: 2.4 MB at
  // 768 dims), then each row's levels chosen.
  void DoEncodeBlock(const float* x, uint64_t n, uint8_t* codes) const override {
    const uint64_t block = std::min<uint64_t>(n, 256);
    std::vector<float> o(block * dim_), rot(block * dp_);
    std::vector<double> norms(block);
    std::vector<uint8_t> levels(dp_);
    for (uint64_t r0 = 0; r0 < n; r0 += block) {
      const uint64_t rn = std::min(block, n - r0);
      for (uint64_t r = 0; r < rn; ++r) {
        float* v = o.data() + r * dim_;
        double norm = 0;
        for (uint32_t j = 0; j < dim_; ++j) {
          v[j] = x[(r0 + r) * dim_ + j] - center_[j];
          norm += double{v[j]} * v[j];
        }
        norms[r] = std::sqrt(norm);
        const float inv = norms[r] > 0 ? static_cast<float>(1 / norms[r]) : 0.0f;
        for (uint32_t j = 0; j < dim_; ++j) v[j] *= inv;
      }
      // rot (rn x dp) = o (rn x dim) * P^T, P's first dim columns.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rn), static_cast<int>(dp_),
                  static_cast<int>(dim_), 1.0f, o.data(), static_cast<int>(dim_), rotation_.data(),
                  static_cast<int>(dp_), 0.0f, rot.data(), static_cast<int>(dp_));
      for (uint64_t r = 0; r < rn; ++r) {
        EncodeRotated(rot.data() + r * dp_, norms[r], levels.data(), codes + (r0 + r) * code_size());
      }
    }
  }

  // The code of a row from its rotated unit residual and |r|.
  void EncodeRotated(const float* rot, double norm, uint8_t* levels, uint8_t* code) const {
    const double cos = ChooseLevels(rot, levels);
    std::memset(code, 0, FactorsAt());
    double u_sq = 0;
    for (uint32_t i = 0; i < dp_; ++i) {
      for (uint32_t b = 0; b < bits_; ++b) {
        if ((levels[i] >> b) & 1) code[b * (dp_ / 8) + i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      }
      u_sq += std::pow(levels[i] + double{offset_}, 2);
    }
    // A zero residual: any unit o_bar estimates <o, v> = 0 exactly (|r| = 0).
    const float f[3] = {static_cast<float>(norm), norm > 0 ? static_cast<float>(cos) : 1.0f,
                        static_cast<float>(1.0 / std::sqrt(u_sq))};
    std::memcpy(code + FactorsAt(), f, bits_ > 1 ? 12 : 8);
  }

  // The levels k_i of the unit vector o' (dp_ components) at the grid scale
  // that maximises <u/|u|, o'>; returns that cosine. B = 1: the sign bits
  // (every scale gives them). B > 1: the scale t maps o'_i to level
  // floor(t o'_i + 2^(B-1)), clamped; t is searched on a grid from a quarter
  // of the scale at which the largest |o'_i| reaches the top level to twice
  // it, then refined around the best point.
  double ChooseLevels(const float* o, uint8_t* levels) const {
    const int top = (1 << bits_) - 1;
    const float half = static_cast<float>(1u << (bits_ - 1));
    // Float sums: this runs 66 times a row. Truncation is floor here: a
    // negative argument clamps to level 0 either way.
    auto at = [&](double t, uint8_t* out) {
      const float tf = static_cast<float>(t);
      float dot = 0, u_sq = 0;
      for (uint32_t i = 0; i < dp_; ++i) {
        const int k = std::clamp(static_cast<int>(tf * o[i] + half), 0, top);
        if (out) out[i] = static_cast<uint8_t>(k);
        const float u = static_cast<float>(k) + offset_;
        dot += u * o[i];
        u_sq += u * u;
      }
      return double{dot} / std::sqrt(double{u_sq});
    };
    float max_abs = 0;
    for (uint32_t i = 0; i < dp_; ++i) max_abs = std::max(max_abs, std::fabs(o[i]));
    if (bits_ == 1 || max_abs == 0) return at(1.0, levels);
    const double t_edge = half / max_abs;
    double best_t = t_edge, best = -2;
    constexpr int kSteps = 48;
    for (int s = 0; s <= kSteps; ++s) {
      const double t = t_edge * (0.25 + 1.75 * s / kSteps);
      const double c = at(t, nullptr);
      if (c > best) best = c, best_t = t;
    }
    const double step = t_edge * 1.75 / kSteps;
    for (int s = -8; s <= 8; ++s) {
      const double t = best_t + step * s / 8;
      const double c = at(t, nullptr);
      if (c > best) best = c, best_t = t;
    }
    return at(best_t, levels);
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
    out->table.assign(uint64_t{bits_} * groups * 256, 0.0f);
    out->bias = 0;
    if (norm == 0) return;
    for (float& v : u) v = static_cast<float>(v / norm);
    Rotate(u.data(), rot.data());
    double sum = 0;
    for (uint32_t i = 0; i < dp_; ++i) sum += rot[i];
    out->bias = static_cast<float>(offset_ * sum);
    // Plane b's tables are plane 0's times 2^b, so a code's planes are
    // scored as one run of bits_ x groups table lookups.
    for (uint32_t g = 0; g < groups; ++g) {
      float* t = out->table.data() + uint64_t{g} * 256;
      for (uint32_t v = 1; v < 256; ++v) {
        const uint32_t low = static_cast<uint32_t>(__builtin_ctz(v));
        t[v] = t[v & (v - 1)] + rot[g * 8 + low];
      }
    }
    for (uint32_t b = 1; b < bits_; ++b) {
      const float w = static_cast<float>(1u << b);
      float* t = out->table.data() + uint64_t{b} * groups * 256;
      for (uint64_t e = 0; e < uint64_t{groups} * 256; ++e) t[e] = w * out->table[e];
    }
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    return Estimate(q, code, LutSum(q.table.data(), code, FactorsAt()));
  }
  void DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const override {
    const size_t cs = code_size();
    LutSums(q.table.data(), codes, cs, FactorsAt(), n, out);
    for (size_t i = 0; i < n; ++i) out[i] = Estimate(q, codes + i * cs, out[i]);
  }
  // The distance estimate from u_dot = <levels, P v> (the table sum).
  float Estimate(const PreparedQuery& q, const uint8_t* code, float u_dot) const {
    const Factors f = ReadFactors(code);
    const float est = (u_dot + q.bias) * f.inv_unorm / f.ip_oo;  // <o, v>
    if (inner_metric() == Metric::kL2) return f.norm * f.norm + q.extra - 2.0f * f.norm * q.scale * est;
    return -(q.extra + f.norm * q.scale * est);
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
  struct Factors {
    float norm;       // |r|
    float ip_oo;      // <o_bar, o'>
    float inv_unorm;  // 1/|u|; for B = 1, |u| = sqrt(D')/2 is not stored
  };
  size_t FactorsAt() const { return size_t{bits_} * dp_ / 8; }
  Factors ReadFactors(const uint8_t* code) const {
    Factors f;
    std::memcpy(&f.norm, code + FactorsAt(), 4);
    std::memcpy(&f.ip_oo, code + FactorsAt() + 4, 4);
    if (bits_ > 1)
      std::memcpy(&f.inv_unorm, code + FactorsAt() + 8, 4);
    else
      f.inv_unorm = sign_inv_unorm_;
    return f;
  }
  uint32_t Level(const uint8_t* code, uint32_t i) const {
    uint32_t k = 0;
    for (uint32_t b = 0; b < bits_; ++b) k |= ((code[b * (dp_ / 8) + i / 8] >> (i % 8)) & 1u) << b;
    return k;
  }

  uint32_t dp_;
  uint32_t bits_;
  float offset_;                 // 1/2 - 2^(B-1): level k stands for k + offset_
  float sign_inv_unorm_;         // B = 1: 1/|u| = 2/sqrt(D') for every code
  float eps_scale_;              // eps0 / sqrt(D' - 1), the bound's constant factor
  std::vector<float> center_;    // dim
  std::vector<float> rotation_;  // dp x dp, row-major; only the first dim columns meet data
};

}  // namespace

std::unique_ptr<Quantizer> NewRaBitQ(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new RaBitQQuantizer(spec, metric, dim));
}

}  // namespace vx::internal
