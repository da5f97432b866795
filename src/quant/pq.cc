// PQ: the vector is cut into M contiguous subvectors, of ceil(dim/M)
// components for the first dim % M of them and floor(dim/M) for the rest (so
// any M up to dim works: pq:24 on 128 dimensions is 8 x 6 + 16 x 5); each is
// replaced by the index of its nearest k-means centroid: 8 bits (pq:M, 256
// centroids) or 4 bits (pq4:M, 16 centroids, two subspaces a byte, subspace
// 2j in the low nibble of byte j).
// A query builds an M x 256 (or M x 16) table of subvector distances (l2:
// squared distance; ip: negated dot), and a code's estimate is the sum of
// its M table entries. pq4 scores with 8-bit tables instead ("fast scan"):
// each subspace's 16 entries become round((t - min_s) / scale) with one
// scale for the query, and an estimate is bias + scale x (integer sum), so
// the AVX2 kernel (16-byte shuffles as table lookups) and the scalar one give
// the same floats.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "core/parallel.h"
#include "quant/impls.h"
#include "quant/kmeans.h"

namespace vx::internal {
namespace {

class PQQuantizer : public Quantizer {
 public:
  PQQuantizer(const QuantSpec& spec, Metric metric, uint32_t dim)
      : Quantizer(spec, metric, dim), m_(spec.pq_m), four_(spec.kind == QuantKind::kPQ4), k_(four_ ? 16 : 256) {
    for (uint32_t s = 0; s <= m_; ++s) start_.push_back(s * (dim / m_) + std::min(s, dim % m_));
  }
  size_t code_size() const override { return four_ ? (m_ + 1) / 2 : m_; }
  void Decode(const uint8_t* code, float* out) const override {
    for (uint32_t s = 0; s < m_; ++s)
      std::memcpy(out + start_[s], Centroid(s, Index(code, s)), Dsub(s) * sizeof(float));
  }

 protected:
  uint32_t Dsub(uint32_t s) const { return start_[s + 1] - start_[s]; }
  uint32_t Index(const uint8_t* code, uint32_t s) const {
    return four_ ? (code[s / 2] >> (4 * (s % 2))) & 15u : code[s];
  }
  // Subspace s's codebook starts at k x start_[s] floats.
  const float* Centroid(uint32_t s, uint32_t c) const {
    return codebooks_.data() + uint64_t{start_[s]} * k_ + uint64_t{c} * Dsub(s);
  }

  Status DoTrain(const float* x, uint64_t n, const TrainParams& p) override {
    if (n < k_) {
      return Status::InvalidArgument(spec_.ToString() + " needs at least " + std::to_string(k_) +
                                     " training vectors, got " + std::to_string(n));
    }
    codebooks_.assign(uint64_t{dim_} * k_, 0.0f);
    std::vector<Status> errors(m_);
    std::mutex progress_mu;
    uint32_t trained = 0;
    // Subspaces are independent: one k-means per task, each single-threaded.
    ParallelFor(m_, p.threads, [&](size_t s) {
      if (p.progress && p.progress->cancelled()) {
        errors[s] = Status::Cancelled("cancelled during train codes");
        return;
      }
      const uint32_t dsub = Dsub(s);
      std::vector<float> sub(n * dsub);
      for (uint64_t r = 0; r < n; ++r) std::memcpy(sub.data() + r * dsub, x + r * dim_ + start_[s], dsub * 4);
      KMeansParams kp;
      kp.k = k_;
      kp.iterations = p.kmeans_iterations;
      kp.seed = p.seed + s;
      kp.max_train_points = p.max_train_points;
      kp.threads = 1;
      auto km = KMeans(sub.data(), n, dsub, kp);
      if (!km.ok()) {
        errors[s] = km.status();
        return;
      }
      std::copy(km->centroids.begin(), km->centroids.end(), codebooks_.begin() + uint64_t{start_[s]} * k_);
      if (p.progress) {
        std::lock_guard lock(progress_mu);
        p.progress->Report(++trained, m_, "train codes");
      }
    });
    for (const Status& s : errors) VX_RETURN_IF_ERROR(s);
    return Status::Ok();
  }

  void DoEncode(const float* x, uint8_t* code) const override {
    const OneFn l2 = kernels_->one[0][0];
    if (four_) std::memset(code, 0, code_size());
    for (uint32_t s = 0; s < m_; ++s) {
      float best = INFINITY;
      uint32_t arg = 0;
      for (uint32_t c = 0; c < k_; ++c) {
        const float d = l2(x + start_[s], 0, Centroid(s, c), Dsub(s));
        if (d < best) {
          best = d;
          arg = c;
        }
      }
      if (four_)
        code[s / 2] |= static_cast<uint8_t>(arg << (4 * (s % 2)));
      else
        code[s] = static_cast<uint8_t>(arg);
    }
  }

  void DoPrepare(const float* q, PreparedQuery* out) const override {
    out->table.resize(uint64_t{m_} * k_);
    const ManyFn many = kernels_->many[static_cast<int>(inner_metric())][0];
    for (uint32_t s = 0; s < m_; ++s) {
      many(q + start_[s], 0, Centroid(s, 0), Dsub(s), k_, out->table.data() + uint64_t{s} * k_);
    }
    if (!four_) return;
    // 8-bit tables, 16 bytes a subspace, padded to an even count with zeros
    // (a missing odd subspace's nibble is 0 and adds 0).
    auto min_of = [&](uint32_t s) { return *std::min_element(&out->table[s * 16], &out->table[s * 16] + 16); };
    double bias = 0;
    float range = 0;
    for (uint32_t s = 0; s < m_; ++s) {
      const float* t = out->table.data() + s * 16;
      const float lo = min_of(s);
      range = std::max(range, *std::max_element(t, t + 16) - lo);
      bias += lo;
    }
    const float scale = range > 0 ? range / 255.0f : 1.0f;
    out->lut8.assign(uint64_t{(m_ + 1) / 2 * 2} * 16, 0);  // capacity kept across queries
    for (uint32_t s = 0; s < m_; ++s) {
      const float lo = min_of(s);
      for (uint32_t c = 0; c < 16; ++c) {
        const float v = std::round((out->table[s * 16 + c] - lo) / scale);
        out->lut8[s * 16 + c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
      }
    }
    out->bias = static_cast<float>(bias);
    out->scale = scale;
  }

  float DoScore(const PreparedQuery& q, const uint8_t* code) const override {
    if (!four_) return LutSum(q.table.data(), code, m_);
    float out;
    Pq4Scores(q.lut8.data(), code, code_size(), 1, q.bias, q.scale, &out);
    return out;
  }

  bool has_block_kernel() const override { return true; }
  void DoScoreBlock(const PreparedQuery& q, const uint8_t* codes, size_t n, float* out) const override {
    if (!four_) return LutSums(q.table.data(), codes, m_, m_, n, out);
    if (kernels_->isa >= Isa::kAvx2)
      Pq4ScoresAvx2(q.lut8.data(), codes, code_size(), n, q.bias, q.scale, out);
    else
      Pq4Scores(q.lut8.data(), codes, code_size(), n, q.bias, q.scale, out);
  }

  void WriteBody(ByteWriter& w) const override { w.PutVector(codebooks_); }
  Status ReadBody(ByteReader& r) override { return r.GetVector(&codebooks_, uint64_t{dim_} * k_); }

 private:
  uint32_t m_;
  bool four_;
  uint32_t k_;                    // centroids per subspace: 256 or 16
  std::vector<uint32_t> start_;   // subspace s covers dimensions [start_[s], start_[s + 1])
  std::vector<float> codebooks_;  // per subspace: k x its dimensions
};

}  // namespace

void Pq4Scores(const uint8_t* lut8, const uint8_t* codes, size_t code_size, size_t n, float bias, float scale,
               float* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* c = codes + i * code_size;
    uint32_t s = 0;
    for (size_t j = 0; j < code_size; ++j) s += lut8[32 * j + (c[j] & 15)] + lut8[32 * j + 16 + (c[j] >> 4)];
    const float product = scale * static_cast<float>(s);
    out[i] = bias + product;
  }
}

std::unique_ptr<Quantizer> NewPQ(const QuantSpec& spec, Metric metric, uint32_t dim) {
  return std::unique_ptr<Quantizer>(new PQQuantizer(spec, metric, dim));
}

}  // namespace vx::internal
