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
// <u, P v> = sum_i k_i (P v)_i + (1/2 - 2^(B-1)) sum_i (P v)_i. The first sum
// is taken with popcounts: P v is rounded to (B + 4)-bit levels lo + delta j_i
// (its bit planes c), so that
//   sum_i k_i (P v)_i ~ lo sum_i k_i + delta sum_{b,c} 2^(b+c) popcount(plane_b(k) & plane_c(j))
// (a few dozen AND + POPCNT on 64-bit words at 768 dims, where byte lookup
// tables of the query spilled out of L1 and L2). ErrorBound adds a bound on
// that rounding's error.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>

#include "quant/impls.h"

namespace vx::internal {
namespace {

// The error is close to normal with the standard deviation below (eps0 = 1),
// so eps0 = 3 makes the bound hold for ~99.7% of pairs (the paper's 1.9
// covers ~94%; measured here on clustered data: 5% outside at 1.9).
constexpr float kEps0 = 3.0f;
constexpr uint32_t kMaxQueryBits = 12;
constexpr double kRoundingSigmas = 4;

// The query's bits for codes of B bits: its rounding then stays well below
// the codes' own error.
constexpr uint32_t QueryBits(uint32_t bits) { return std::min(bits + 4, kMaxQueryBits); }

// sum over the code's B bit planes b and the query's c of 2^(b+c) popcount(b
// & c), and (in *levels) sum_b 2^b popcount(b): sum_i k_i j_i and sum_i k_i.
// Planes are `plane_bytes` long; the query's are `words` 64-bit words each,
// zero past the dims. B is a template argument so that the per-plane sums
// stay in registers; inlined into a POPCNT build and a generic one.
template <uint32_t B>
__attribute__((always_inline)) inline uint64_t PlaneDot(const uint8_t* code, size_t plane_bytes, const uint64_t* qbits,
                                                        size_t words, uint64_t* levels) {
  constexpr uint32_t QB = QueryBits(B);
  const size_t full = plane_bytes / 8;
  uint64_t dot = 0, sum = 0;
  for (uint32_t b = 0; b < B; ++b) {
    const uint8_t* plane = code + b * plane_bytes;
    uint64_t ones = 0, per[QB] = {};
    for (size_t w = 0; w < words; ++w) {
      uint64_t x = 0;
      if (w < full) {
        std::memcpy(&x, plane + w * 8, 8);
      } else {
        for (size_t i = w * 8; i < plane_bytes; ++i) x |= uint64_t{plane[i]} << (8 * (i - w * 8));
      }
      ones += static_cast<uint64_t>(__builtin_popcountll(x));
      for (uint32_t c = 0; c < QB; ++c) per[c] += static_cast<uint64_t>(__builtin_popcountll(x & qbits[c * words + w]));
    }
    sum += ones << b;
    for (uint32_t c = 0; c < QB; ++c) dot += per[c] << (b + c);
  }
  *levels = sum;
  return dot;
}
template <uint32_t B>
__attribute__((target("popcnt"))) uint64_t PlaneDotPopcnt(const uint8_t* code, size_t plane_bytes,
                                                          const uint64_t* qbits, size_t words, uint64_t* levels) {
  return PlaneDot<B>(code, plane_bytes, qbits, words, levels);
}
template <uint32_t B>
uint64_t PlaneDotGeneric(const uint8_t* code, size_t plane_bytes, const uint64_t* qbits, size_t words,
                         uint64_t* levels) {
  return PlaneDot<B>(code, plane_bytes, qbits, words, levels);
}
// The same, eight words at a time (AVX-512 VPOPCNTDQ): a plane's bytes and
// the query's words masked at the end, each product's counts shifted into
// place lane by lane, one reduction at the end.
template <uint32_t B>
__attribute__((target("avx512f,avx512bw,avx512vpopcntdq"))) uint64_t PlaneDotAvx512(const uint8_t* code,
                                                                                    size_t plane_bytes,
                                                                                    const uint64_t* qbits, size_t words,
                                                                                    uint64_t* levels) {
  constexpr uint32_t QB = QueryBits(B);
  __m512i dot = _mm512_setzero_si512(), ones = _mm512_setzero_si512();
  for (size_t w = 0; w < words; w += 8) {
    const size_t left_bytes = plane_bytes - w * 8;
    const __mmask64 byte_mask = left_bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << left_bytes) - 1;
    const __mmask8 word_mask = words - w >= 8 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (words - w)) - 1);
    __m512i q[QB];
    for (uint32_t c = 0; c < QB; ++c) q[c] = _mm512_maskz_loadu_epi64(word_mask, qbits + c * words + w);
    for (uint32_t b = 0; b < B; ++b) {
      const __m512i x = _mm512_maskz_loadu_epi8(byte_mask, code + b * plane_bytes + w * 8);
      ones = _mm512_add_epi64(ones, _mm512_slli_epi64(_mm512_popcnt_epi64(x), b));
      for (uint32_t c = 0; c < QB; ++c)
        dot = _mm512_add_epi64(dot, _mm512_slli_epi64(_mm512_popcnt_epi64(_mm512_and_si512(x, q[c])), b + c));
    }
  }
  *levels = static_cast<uint64_t>(_mm512_reduce_add_epi64(ones));
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(dot));
}

using PlaneDotFn = uint64_t (*)(const uint8_t*, size_t, const uint64_t*, size_t, uint64_t*);
// PlaneDot<bits> for each kernel set (Isa order), the best this CPU runs
// within it: scalar the generic one, AVX2 with POPCNT, AVX-512 with
// VPOPCNTDQ. Every one returns the same integers.
template <uint32_t... Bs>
std::array<PlaneDotFn, 3> PickPlaneDots(uint32_t bits, std::integer_sequence<uint32_t, Bs...>) {
  constexpr PlaneDotFn avx512[] = {PlaneDotAvx512<Bs + 1>...};
  constexpr PlaneDotFn popcnt[] = {PlaneDotPopcnt<Bs + 1>...};
  constexpr PlaneDotFn generic[] = {PlaneDotGeneric<Bs + 1>...};
  const PlaneDotFn avx2 = (__builtin_cpu_supports("popcnt") ? popcnt : generic)[bits - 1];
  return {generic[bits - 1], avx2, __builtin_cpu_supports("avx512vpopcntdq") ? avx512[bits - 1] : avx2};
}

class RaBitQQuantizer : public Quantizer {
 public:
  RaBitQQuantizer(const QuantSpec& spec, Metric metric, uint32_t dim)
      : Quantizer(spec, metric, dim),
        dp_((dim + 7) / 8 * 8),
        bits_(spec.bits),
        offset_(0.5f - static_cast<float>(1u << (spec.bits - 1))),
        sign_inv_unorm_(2.0f / std::sqrt(static_cast<float>(dp_))),
        eps_scale_(kEps0 / std::sqrt(static_cast<float>(dp_ - 1))),
        words_((dp_ + 63) / 64),
        qb_(QueryBits(spec.bits)),
        plane_dots_(PickPlaneDots(spec.bits, std::make_integer_sequence<uint32_t, 8>())) {}
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
  bool error_bound_is_cheap() const override { return true; }
  float ErrorBound(const PreparedQuery& q, const uint8_t* code) const override {
    const Factors f = ReadFactors(code);
    const float norm = f.norm, ip_oo = f.ip_oo;
    const float err = eps_scale_ * std::sqrt(std::max(0.0f, 1.0f - ip_oo * ip_oo) / (ip_oo * ip_oo));
    const float scale = inner_metric() == Metric::kL2 ? 2.0f * norm * q.scale : norm * q.scale;
    // The query's rounding to qb_ bits: sum_i k_i r_i with |r_i| <= delta / 2
    // spread as independent uniform errors, sd <= delta sqrt(sum k_i^2 / 12)
    // with sum k_i^2 <= (2^B - 1)^2 D'; kRoundingSigmas of them. O(1): IVF
    // bounds every entry it admits, right after scoring it.
    const double top = double((1u << bits_) - 1);
    const double rounding = kRoundingSigmas * q.q_delta * top * std::sqrt(dp_ / 12.0) * f.inv_unorm / ip_oo;
    return scale * (err + static_cast<float>(rounding));
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
    out->qbits.assign(qb_ * words_, 0);
    out->bias = out->q_lo = out->q_delta = 0;
    if (norm == 0) return;
    for (float& v : u) v = static_cast<float>(v / norm);
    Rotate(u.data(), rot.data());
    double sum = 0;
    float lo = rot[0], hi = rot[0];
    for (uint32_t i = 0; i < dp_; ++i) {
      sum += rot[i];
      lo = std::min(lo, rot[i]);
      hi = std::max(hi, rot[i]);
    }
    out->bias = static_cast<float>(offset_ * sum);
    const float kTop = static_cast<float>((1u << qb_) - 1);
    out->q_lo = lo;
    out->q_delta = hi > lo ? (hi - lo) / kTop : 1.0f;
    for (uint32_t i = 0; i < dp_; ++i) {
      const auto j = static_cast<uint32_t>(std::clamp(std::nearbyint((rot[i] - lo) / out->q_delta), 0.0f, kTop));
      for (uint32_t c = 0; c < qb_; ++c) {
        if ((j >> c) & 1) out->qbits[c * words_ + i / 64] |= uint64_t{1} << (i % 64);
      }
    }
  }

  PlaneDotFn PlaneDotOf() const { return plane_dots_[static_cast<size_t>(kernels_->isa)]; }
  // sum_i k_i (P v)_i from the query's levels (see the header comment).
  double LevelDot(const PreparedQuery& q, const uint8_t* code) const {
    uint64_t levels = 0;
    const uint64_t dot = PlaneDotOf()(code, dp_ / 8, q.qbits.data(), words_, &levels);
    return double{q.q_lo} * static_cast<double>(levels) + double{q.q_delta} * static_cast<double>(dot);
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    return Estimate(q, code, static_cast<float>(LevelDot(q, code)));
  }
  // The distance estimate from u_dot = <levels, P v> (LevelDot).
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
  float offset_;                          // 1/2 - 2^(B-1): level k stands for k + offset_
  float sign_inv_unorm_;                  // B = 1: 1/|u| = 2/sqrt(D') for every code
  float eps_scale_;                       // eps0 / sqrt(D' - 1), the bound's constant factor
  size_t words_;                          // 64-bit words a query bit plane takes
  uint32_t qb_;                           // the query's bits: B + 4, its rounding well below the codes' error
  std::array<PlaneDotFn, 3> plane_dots_;  // for bits_, by Isa
  std::vector<float> center_;             // dim
  std::vector<float> rotation_;           // dp x dp, row-major; only the first dim columns meet data
};

}  // namespace

std::unique_ptr<Quantizer> NewRaBitQ(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new RaBitQQuantizer(spec, metric, dim));
}

}  // namespace vx::internal
