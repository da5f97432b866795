#include "core/synth.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace vx {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A small counter-seeded generator (xorshift-multiply) with Gaussian draws.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(SplitMix64(seed) | 1) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Gaussian() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u = 1.0 - Uniform();  // (0, 1]
    const double v = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u));
    spare_ = r * std::sin(2 * M_PI * v);
    has_spare_ = true;
    return r * std::cos(2 * M_PI * v);
  }

 private:
  uint64_t s_;
  double spare_ = 0;
  bool has_spare_ = false;
};

uint64_t VectorSeed(uint64_t seed, uint64_t stream, uint64_t i) {
  return SplitMix64(SplitMix64(seed ^ (stream * 0xD1B54A32D192ED03ull)) + i);
}

}  // namespace

SyntheticGenerator::SyntheticGenerator(const SynthParams& params)
    : params_(params), rank_(std::min(kRank, params.dim)) {
  VX_CHECK(params.dim > 0 && params.clusters > 0);
  const uint32_t d = params.dim, c = params.clusters;
  Rng rng(SplitMix64(params.seed) ^ 0x5EEDull);
  // Uneven sizes: weight of cluster j ~ 1/(j+1)^0.8, so the largest cluster is
  // tens of times the smallest, as in real embedding sets.
  cumulative_weight_.resize(c);
  double sum = 0;
  for (uint32_t j = 0; j < c; ++j) sum += std::pow(j + 1.0, -0.8);
  double acc = 0;
  for (uint32_t j = 0; j < c; ++j) {
    acc += std::pow(j + 1.0, -0.8) / sum;
    cumulative_weight_[j] = acc;
  }
  cumulative_weight_.back() = 1.0;
  centers_.resize(size_t{c} * d);
  for (float& v : centers_) v = static_cast<float>(rng.Gaussian());
  // Directions of large variance (the cluster's "shape") and per-dimension
  // noise scales drawn log-normally (anisotropic spread).
  directions_.resize(size_t{c} * rank_ * d);
  const double dir_scale = 0.9 / std::sqrt(static_cast<double>(rank_));
  for (float& v : directions_) v = static_cast<float>(rng.Gaussian() * dir_scale);
  scales_.resize(size_t{c} * d);
  for (float& v : scales_) v = static_cast<float>(0.3 * std::exp(0.5 * rng.Gaussian()));
}

uint32_t SyntheticGenerator::ClusterOf(uint64_t stream, uint64_t i) const {
  Rng rng(VectorSeed(params_.seed, stream, i));
  const double u = rng.Uniform();
  const auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), u);
  return static_cast<uint32_t>(std::min<size_t>(it - cumulative_weight_.begin(), cumulative_weight_.size() - 1));
}

void SyntheticGenerator::Generate(uint64_t stream, uint64_t first, uint64_t n, float* out) const {
  const uint32_t d = params_.dim;
  std::vector<double> z(rank_);
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t i = first + r;
    Rng rng(VectorSeed(params_.seed, stream, i));
    const double u = rng.Uniform();  // same first draw as ClusterOf
    const auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), u);
    const size_t c = std::min<size_t>(it - cumulative_weight_.begin(), cumulative_weight_.size() - 1);
    for (auto& v : z) v = rng.Gaussian();
    float* x = out + r * d;
    const float* center = centers_.data() + c * d;
    const float* scale = scales_.data() + c * d;
    for (uint32_t j = 0; j < d; ++j) x[j] = center[j] + static_cast<float>(scale[j] * rng.Gaussian());
    for (uint32_t k = 0; k < rank_; ++k) {
      const float* dir = directions_.data() + (c * rank_ + k) * d;
      const float zk = static_cast<float>(z[k]);
      for (uint32_t j = 0; j < d; ++j) x[j] += zk * dir[j];
    }
    if (params_.normalize) {
      double norm = 0;
      for (uint32_t j = 0; j < d; ++j) norm += double{x[j]} * x[j];
      const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
      for (uint32_t j = 0; j < d; ++j) x[j] *= inv;
    }
  }
}

}  // namespace vx
