// PQ: the vector is cut into M contiguous subvectors, of ceil(dim/M)
// components for the first dim % M of them and floor(dim/M) for the rest (so
// any M up to dim works: pq:24 on 128 dimensions is 8 x 6 + 16 x 5); each is
// replaced by the index (8 bits) of its nearest of 256 k-means centroids.
// A query builds an M x 256 table of subvector distances (l2: squared
// distance; ip: negated dot), and a code's estimate is the sum of its M
// table entries.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "quant/impls.h"
#include "quant/kmeans.h"

namespace vx::internal {
namespace {

constexpr uint32_t kCentroids = 256;

class PQQuantizer : public Quantizer {
 public:
  PQQuantizer(const QuantSpec& spec, Metric metric, uint32_t dim)
      : Quantizer(spec, metric, dim), m_(spec.pq_m) {
    for (uint32_t s = 0; s <= m_; ++s) start_.push_back(s * (dim / m_) + std::min(s, dim % m_));
  }
  size_t code_size() const override { return m_; }
  void Decode(const uint8_t* code, float* out) const override {
    for (uint32_t s = 0; s < m_; ++s) std::memcpy(out + start_[s], Centroid(s, code[s]), Dsub(s) * sizeof(float));
  }

 protected:
  uint32_t Dsub(uint32_t s) const { return start_[s + 1] - start_[s]; }
  // Subspace s's codebook starts at 256 x start_[s] floats.
  const float* Centroid(uint32_t s, uint32_t c) const {
    return codebooks_.data() + uint64_t{start_[s]} * kCentroids + uint64_t{c} * Dsub(s);
  }

  Status DoTrain(const float* x, uint64_t n, const TrainParams& p) override {
    if (n < kCentroids) {
      return Status::InvalidArgument("pq needs at least 256 training vectors, got " + std::to_string(n));
    }
    codebooks_.assign(uint64_t{dim_} * kCentroids, 0.0f);
    std::vector<Status> errors(m_);
    // Subspaces are independent: one k-means per task, each single-threaded.
    ParallelFor(m_, p.threads, [&](size_t s) {
      const uint32_t dsub = Dsub(s);
      std::vector<float> sub(n * dsub);
      for (uint64_t r = 0; r < n; ++r) std::memcpy(sub.data() + r * dsub, x + r * dim_ + start_[s], dsub * 4);
      KMeansParams kp;
      kp.k = kCentroids;
      kp.iterations = p.kmeans_iterations;
      kp.seed = p.seed + s;
      kp.max_train_points = p.max_train_points;
      kp.threads = 1;
      auto km = KMeans(sub.data(), n, dsub, kp);
      if (!km.ok()) {
        errors[s] = km.status();
        return;
      }
      std::copy(km->centroids.begin(), km->centroids.end(), codebooks_.begin() + uint64_t{start_[s]} * kCentroids);
    });
    for (const Status& s : errors) VX_RETURN_IF_ERROR(s);
    return Status::Ok();
  }

  void DoEncode(const float* x, uint8_t* code) const override {
    const OneFn l2 = kernels_->one[0][0];
    for (uint32_t s = 0; s < m_; ++s) {
      float best = INFINITY;
      uint32_t arg = 0;
      for (uint32_t c = 0; c < kCentroids; ++c) {
        const float d = l2(x + start_[s], 0, Centroid(s, c), Dsub(s));
        if (d < best) {
          best = d;
          arg = c;
        }
      }
      code[s] = static_cast<uint8_t>(arg);
    }
  }

  void DoPrepare(const float* q, PreparedQuery* out) const override {
    out->table.resize(uint64_t{m_} * kCentroids);
    const ManyFn many = kernels_->many[static_cast<int>(inner_metric())][0];
    for (uint32_t s = 0; s < m_; ++s) {
      many(q + start_[s], 0, Centroid(s, 0), Dsub(s), kCentroids, out->table.data() + uint64_t{s} * kCentroids);
    }
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override { return LutSum(q.table.data(), code, m_); }
  void DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const override {
    LutSums(q.table.data(), codes, m_, m_, n, out);
  }

  void WriteBody(ByteWriter& w) const override { w.PutVector(codebooks_); }
  Status ReadBody(ByteReader& r) override { return r.GetVector(&codebooks_, uint64_t{dim_} * kCentroids); }

 private:
  uint32_t m_;
  std::vector<uint32_t> start_;   // subspace s covers dimensions [start_[s], start_[s + 1])
  std::vector<float> codebooks_;  // per subspace: 256 x its dimensions
};

}  // namespace

std::unique_ptr<Quantizer> NewPQ(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new PQQuantizer(spec, metric, dim));
}

}  // namespace vx::internal
