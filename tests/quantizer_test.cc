// Quantizers: estimates within their stated bounds of the exact distance,
// SIMD equal to scalar, serialization exact and checked, recall on real data.
//
// Bounds. For f16, sq8 and pq a code decodes to x^; with r = |x - x^|:
//   l2:     |est - exact| <= 2 r sqrt(est) + r^2        (triangle inequality)
//   ip:     |est - exact| <= r |q|                       (Cauchy-Schwarz)
//   cosine: as ip on unit vectors
// plus float rounding (1e-3 relative). For RaBitQ the bound is its own
// ErrorBound(), which holds with high probability: >= 99% of pairs must fall
// inside it.
#include "quant/quantizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/dataset.h"
#include "core/synth.h"
#include "quant/impls.h"
#include "test_util.h"

namespace vx {
namespace {

// sq8 scores its codes against the query rounded to i8 units of q8_scale:
// each code byte c moves the inner product by at most c * q8_scale / 2 (l2
// counts it twice).
double Sq8QueryRounding(const PreparedQuery& pq, const uint8_t* code, uint32_t dim, Metric m) {
  double bytes = 0;
  for (uint32_t j = 0; j < dim; ++j) bytes += code[j];
  return (m == Metric::kL2 ? 2 : 1) * bytes * pq.q8_scale * 0.5;
}

struct Case {
  const char* spec;
  Metric metric;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = std::string(info.param.spec) + "_" + MetricName(info.param.metric);
  std::replace(s.begin(), s.end(), ':', '_');
  return s;
}

std::vector<float> Unit(const float* v, uint32_t d) {
  double n = 0;
  for (uint32_t i = 0; i < d; ++i) n += double{v[i]} * v[i];
  std::vector<float> u(v, v + d);
  for (float& x : u) x = static_cast<float>(x / std::sqrt(n));
  return u;
}

class QuantizerTest : public ::testing::TestWithParam<Case> {
 protected:
  static constexpr uint32_t kDim = 64;
  void SetUp() override {
    SynthParams p;
    p.dim = kDim;
    p.clusters = 16;
    SyntheticGenerator gen(p);
    base_.resize(4000 * kDim);
    gen.Generate(SyntheticGenerator::kBaseStream, 0, 4000, base_.data());
    queries_.resize(20 * kDim);
    gen.Generate(SyntheticGenerator::kQueryStream, 0, 20, queries_.data());
    auto spec = ParseQuantSpec(GetParam().spec);
    ASSERT_TRUE(spec.ok());
    auto q = Quantizer::Create(*spec, GetParam().metric, kDim);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    q_ = std::move(q).value();
    TrainParams tp;
    tp.kmeans_iterations = 8;
    ASSERT_TRUE(q_->Train(base_.data(), 4000, tp).ok());
    codes_.resize(4000 * q_->code_size());
    ASSERT_TRUE(q_->Encode(base_.data(), 4000, codes_.data()).ok());
  }
  const uint8_t* Code(size_t i) const { return codes_.data() + i * q_->code_size(); }

  std::vector<float> base_, queries_;
  std::vector<uint8_t> codes_;
  std::unique_ptr<Quantizer> q_;
};

TEST_P(QuantizerTest, EstimatesStayWithinTheStatedBound) {
  const Metric m = GetParam().metric;
  const bool probabilistic = q_->spec().kind == QuantKind::kRaBitQ;
  uint64_t pairs = 0, outside = 0, outside_stated = 0;
  PreparedQuery pq;
  std::vector<float> rec(kDim);
  for (int qi = 0; qi < 20; ++qi) {
    const float* q = queries_.data() + qi * kDim;
    ASSERT_TRUE(q_->Prepare(q, &pq).ok());
    const std::vector<float> uq = Unit(q, kDim);
    for (size_t i = 0; i < 4000; i += 7) {
      const float* x = base_.data() + i * kDim;
      const double exact = testing::ReferenceDistance(m, q, x, kDim);
      const double est = q_->Score(pq, Code(i));
      double bound;
      if (probabilistic) {
        bound = q_->ErrorBound(pq, Code(i)) * 1.0001 + 1e-4 * (std::fabs(exact) + 1);
      } else {
        q_->Decode(Code(i), rec.data());
        const std::vector<float> ux = m == Metric::kCosine ? Unit(x, kDim) : std::vector<float>(x, x + kDim);
        double r = 0;
        for (uint32_t j = 0; j < kDim; ++j) r += std::pow(double{ux[j]} - rec[j], 2);
        r = std::sqrt(r);
        double qn = 0;
        for (uint32_t j = 0; j < kDim; ++j) qn += double{q[j]} * q[j];
        if (m == Metric::kL2)
          bound = 2 * r * std::sqrt(std::max(est, 0.0)) + r * r;
        else if (m == Metric::kInnerProduct)
          bound = r * std::sqrt(qn);
        else
          bound = r;
        bound += 1e-3 * (std::fabs(exact) + 1);
        // pq4 rounds each subspace's table entry to a multiple of scale.
        if (q_->spec().kind == QuantKind::kPQ4) bound += q_->spec().pq_m * pq.scale * 0.5;
        if (q_->spec().kind == QuantKind::kSQ8) bound += Sq8QueryRounding(pq, Code(i), kDim, m);
      }
      ++pairs;
      // sq8 states a bound too, for the rerank: it must hold as RaBitQ's does.
      if (!probabilistic && q_->has_error_bound())
        outside_stated += std::fabs(est - exact) > q_->ErrorBound(pq, Code(i)) * 1.0001 + 1e-4 * (std::fabs(exact) + 1);
      if (std::fabs(est - exact) > bound) {
        ++outside;
        if (!probabilistic)
          ADD_FAILURE() << "query " << qi << " row " << i << ": est " << est << " exact " << exact << " bound "
                        << bound;
      }
    }
  }
  if (probabilistic) {
    EXPECT_LE(outside, pairs / 100) << outside << " of " << pairs << " outside the bound";
  }
  EXPECT_LE(outside_stated, pairs / 1000) << outside_stated << " of " << pairs << " outside ErrorBound()";
  if (q_->spec().kind == QuantKind::kSQ8) {
    // ...and be tight enough to rule candidates out: well under the
    // triangle bound's worst case.
    ASSERT_TRUE(q_->Prepare(queries_.data(), &pq).ok());
    EXPECT_LT(q_->ErrorBound(pq, Code(0)), 0.5 * std::fabs(q_->Score(pq, Code(0))) + 1e-3);
  }
}

TEST_P(QuantizerTest, BlockScoringEqualsOneByOne) {
  PreparedQuery pq;
  ASSERT_TRUE(q_->Prepare(queries_.data(), &pq).ok());
  std::vector<float> block(4000);
  q_->ScoreBlock(pq, codes_.data(), 4000, block.data());
  for (size_t i = 0; i < 4000; ++i) ASSERT_EQ(block[i], q_->Score(pq, Code(i))) << i;
}

// Rows scored where they lie in a table (out of order, repeated) score as
// each does alone: through the block kernel (PQ, f16) or one by one.
TEST_P(QuantizerTest, RowScoringEqualsOneByOne) {
  PreparedQuery pq;
  ASSERT_TRUE(q_->Prepare(queries_.data(), &pq).ok());
  std::mt19937 rng(3);
  std::vector<uint32_t> rows(64);
  for (uint32_t& r : rows) r = static_cast<uint32_t>(rng() % 4000);
  rows[1] = rows[0];
  std::vector<uint8_t> block(rows.size() * q_->code_size());
  std::vector<float> scores(rows.size());
  q_->ScoreRows(pq, codes_.data(), rows, block.data(), scores.data());
  for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(scores[i], q_->Score(pq, Code(rows[i]))) << "row " << rows[i];
}

TEST_P(QuantizerTest, SimdScoringMatchesScalar) {
  PreparedQuery pq;
  ASSERT_TRUE(q_->Prepare(queries_.data(), &pq).ok());
  std::vector<float> simd(4000), scalar(4000);
  q_->ScoreBlock(pq, codes_.data(), 4000, simd.data());
  q_->UseKernels(*KernelTableFor(Isa::kScalar));
  PreparedQuery pq_scalar;
  ASSERT_TRUE(q_->Prepare(queries_.data(), &pq_scalar).ok());
  q_->ScoreBlock(pq_scalar, codes_.data(), 4000, scalar.data());
  for (size_t i = 0; i < 4000; ++i) {
    ASSERT_NEAR(simd[i], scalar[i], 1e-4 * (std::fabs(scalar[i]) + 1)) << "row " << i;
  }
}

// RaBitQ's bit-plane popcounts (generic, POPCNT, AVX-512 VPOPCNTDQ) give the
// same scores at every bit width, at dims whose planes end inside a 64-bit
// word and inside an 8-word vector.
TEST(Quantizer, RaBitQPopcountScoringIsTheSameOnEveryKernelSet) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (uint32_t dim : {8u, 100u, 600u, 1000u}) {
    std::vector<float> rows(300 * dim), q(dim);
    for (float& v : rows) v = g(rng);
    for (float& v : q) v = g(rng);
    for (uint32_t bits = 1; bits <= 8; ++bits) {
      SCOPED_TRACE(std::to_string(dim) + " dims, " + std::to_string(bits) + " bits");
      QuantSpec spec;
      spec.kind = QuantKind::kRaBitQ;
      spec.bits = bits;
      auto quantizer = Quantizer::Create(spec, Metric::kL2, dim);
      ASSERT_TRUE(quantizer.ok());
      ASSERT_TRUE((*quantizer)->Train(rows.data(), 300, TrainParams{}).ok());
      const size_t cs = (*quantizer)->code_size();
      std::vector<uint8_t> codes(300 * cs);
      ASSERT_TRUE((*quantizer)->Encode(rows.data(), 300, codes.data()).ok());
      std::vector<std::vector<float>> scores;
      for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (KernelTableFor(isa) == nullptr) continue;
        (*quantizer)->UseKernels(*KernelTableFor(isa));
        PreparedQuery pq;
        ASSERT_TRUE((*quantizer)->Prepare(q.data(), &pq).ok());
        scores.emplace_back(300);
        for (size_t i = 0; i < 300; ++i) scores.back()[i] = (*quantizer)->Score(pq, codes.data() + i * cs);
      }
      for (size_t k = 1; k < scores.size(); ++k) EXPECT_EQ(scores[k], scores[0]) << "kernel set " << k;
    }
  }
}

TEST_P(QuantizerTest, SerializeThenLoadScoresIdentically) {
  const std::string bytes = q_->Serialize();
  auto loaded = Quantizer::Deserialize(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->code_size(), q_->code_size());
  std::vector<uint8_t> codes2(codes_.size());
  ASSERT_TRUE((*loaded)->Encode(base_.data(), 4000, codes2.data()).ok());
  EXPECT_EQ(codes2, codes_);
  PreparedQuery a, b;
  ASSERT_TRUE(q_->Prepare(queries_.data() + kDim, &a).ok());
  ASSERT_TRUE((*loaded)->Prepare(queries_.data() + kDim, &b).ok());
  for (size_t i = 0; i < 4000; i += 13) ASSERT_EQ(q_->Score(a, Code(i)), (*loaded)->Score(b, Code(i)));
}

TEST_P(QuantizerTest, CorruptedSerializationIsCorruption) {
  const std::string bytes = q_->Serialize();
  for (size_t pos : {size_t{0}, size_t{5}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    if (pos >= bytes.size()) continue;
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x11);
    auto r = Quantizer::Deserialize(bad);
    ASSERT_FALSE(r.ok()) << "flip at " << pos;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
  }
  auto r = Quantizer::Deserialize(bytes.substr(0, bytes.size() - 3));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Quantizer::Deserialize("").status().code(), StatusCode::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(All, QuantizerTest,
                         ::testing::Values(Case{"f16", Metric::kL2}, Case{"f16", Metric::kInnerProduct},
                                           Case{"f16", Metric::kCosine}, Case{"sq8", Metric::kL2},
                                           Case{"sq8", Metric::kInnerProduct}, Case{"sq8", Metric::kCosine},
                                           Case{"pq:16", Metric::kL2}, Case{"pq:16", Metric::kInnerProduct},
                                           Case{"pq:8", Metric::kCosine},
                                           // Uneven subspaces: 64 = 16 x 3 + 8 x 2, and 4 x 13 + 12 (an m % 4 tail).
                                           Case{"pq:24", Metric::kL2}, Case{"pq:5", Metric::kInnerProduct},
                                           // 4-bit fast scan; pq4:7 leaves the last byte's high nibble unused.
                                           Case{"pq4:16", Metric::kL2}, Case{"pq4:7", Metric::kInnerProduct},
                                           Case{"pq4:32", Metric::kCosine}, Case{"rabitq", Metric::kL2},
                                           Case{"rabitq", Metric::kInnerProduct}, Case{"rabitq", Metric::kCosine},
                                           Case{"rabitq:2", Metric::kL2}, Case{"rabitq:4", Metric::kInnerProduct},
                                           Case{"rabitq:8", Metric::kCosine}),
                         Name);

// The AVX2 pq4 fast scan (in-register transposes of 32 codes, 16-bit sums
// carried every 128 bytes) equals the plain loop for any code size and
// count, with tables at their largest entries to exercise the carries.
TEST(Quantizer, Pq4Avx2ScoresEqualThePlainLoop) {
  if (KernelTableFor(Isa::kAvx2) == nullptr) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(5);
  for (size_t cs : {1, 2, 7, 15, 16, 17, 33, 64, 127, 128, 129, 300}) {
    std::vector<uint8_t> lut(32 * cs);
    for (uint8_t& v : lut) v = static_cast<uint8_t>(rng() % 4 ? 255 : rng());
    for (size_t n : {0, 1, 31, 32, 33, 100}) {
      std::vector<uint8_t> codes(n * cs);
      for (uint8_t& c : codes) c = static_cast<uint8_t>(rng());
      std::vector<float> want(n + 1, 7), got(n + 1, 7);
      internal::Pq4Scores(lut.data(), codes.data(), cs, n, -3.25f, 0.0173f, want.data());
      internal::Pq4ScoresAvx2(lut.data(), codes.data(), cs, n, -3.25f, 0.0173f, got.data());
      ASSERT_EQ(got, want) << "code size " << cs << ", " << n << " codes";
      // With scale 1 and bias 0 the scores are the integer sums themselves.
      for (size_t i = 0; i < n; ++i) {
        uint32_t sum = 0;
        for (size_t j = 0; j < cs; ++j)
          sum += lut[32 * j + (codes[i * cs + j] & 15)] + lut[32 * j + 16 + (codes[i * cs + j] >> 4)];
        float one;
        internal::Pq4ScoresAvx2(lut.data(), codes.data() + i * cs, cs, 1, 0.0f, 1.0f, &one);
        ASSERT_EQ(one, static_cast<float>(sum)) << "code size " << cs << ", code " << i;
      }
    }
  }
}

// Extended RaBitQ: each added bit per dimension makes the estimates closer
// to the exact distances (mean absolute error over query-row pairs).
TEST(Quantizer, RaBitQErrorShrinksWithEveryBit) {
  constexpr uint32_t kDim = 48;
  SynthParams p;
  p.dim = kDim;
  p.clusters = 8;
  SyntheticGenerator gen(p);
  std::vector<float> base(3000 * kDim), queries(10 * kDim);
  gen.Generate(SyntheticGenerator::kBaseStream, 0, 3000, base.data());
  gen.Generate(SyntheticGenerator::kQueryStream, 0, 10, queries.data());
  double prev = INFINITY;
  for (uint32_t bits = 1; bits <= 8; ++bits) {
    QuantSpec spec;
    spec.kind = QuantKind::kRaBitQ;
    spec.bits = bits;
    auto q = Quantizer::Create(spec, Metric::kL2, kDim);
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->Train(base.data(), 3000, TrainParams{}).ok());
    std::vector<uint8_t> codes(3000 * (*q)->code_size());
    ASSERT_TRUE((*q)->Encode(base.data(), 3000, codes.data()).ok());
    double err = 0;
    PreparedQuery pq;
    for (int qi = 0; qi < 10; ++qi) {
      ASSERT_TRUE((*q)->Prepare(queries.data() + qi * kDim, &pq).ok());
      for (size_t i = 0; i < 3000; ++i) {
        const double exact =
            testing::ReferenceDistance(Metric::kL2, queries.data() + qi * kDim, base.data() + i * kDim, kDim);
        err += std::fabs((*q)->Score(pq, codes.data() + i * (*q)->code_size()) - exact);
      }
    }
    err /= 30000;
    EXPECT_LT(err, prev * 0.8) << "rabitq:" << bits << " is not clearly better than rabitq:" << bits - 1;
    prev = err;
  }
}

TEST(QuantSpec, ParsesAndRejects) {
  EXPECT_EQ(ParseQuantSpec("pq:32")->pq_m, 32u);
  EXPECT_EQ(ParseQuantSpec("rabitq")->ToString(), "rabitq");
  EXPECT_EQ(ParseQuantSpec("rabitq:1")->ToString(), "rabitq");
  EXPECT_EQ(ParseQuantSpec("rabitq:4")->ToString(), "rabitq:4");
  EXPECT_EQ(Quantizer::Create(*ParseQuantSpec("rabitq:4"), Metric::kL2, 60).value()->code_size(), 64 * 4 / 8 + 12u);
  for (const char* bad : {"pq", "pq:", "pq:x", "pq4:0", "sq4", "f16:2", "", "rabitq:0", "rabitq:9"}) {
    EXPECT_EQ(ParseQuantSpec(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(Quantizer::Create(*ParseQuantSpec("pq:7"), Metric::kL2, 64).ok());
  EXPECT_EQ(Quantizer::Create(*ParseQuantSpec("pq4:7"), Metric::kL2, 64).value()->code_size(), 4u);
  EXPECT_EQ(ParseQuantSpec("pq4:32")->ToString(), "pq4:32");
  EXPECT_EQ(Quantizer::Create(*ParseQuantSpec("pq:64"), Metric::kL2, 64).value()->code_size(), 64u);
  auto q = Quantizer::Create(*ParseQuantSpec("pq:65"), Metric::kL2, 64);
  EXPECT_NE(q.status().message().find("must number 1 to 64"), std::string::npos) << q.status().ToString();
}

TEST(Quantizer, CosineRejectsZeroVectors) {
  auto q = Quantizer::Create(*ParseQuantSpec("sq8"), Metric::kCosine, 4);
  std::vector<float> x = {1, 2, 3, 4, 0, 0, 0, 0};
  EXPECT_FALSE((*q)->Train(x.data(), 2, TrainParams{}).ok());
  ASSERT_TRUE((*q)->Train(x.data(), 1, TrainParams{}).ok());
  std::vector<uint8_t> codes(2 * (*q)->code_size());
  const Status s = (*q)->Encode(x.data(), 2, codes.data());
  EXPECT_NE(s.message().find("row 1 is a zero vector"), std::string::npos) << s.ToString();
  PreparedQuery pq;
  EXPECT_FALSE((*q)->Prepare(x.data() + 4, &pq).ok());
}

// Recall@10 against the official siftsmall ground truth, by codes alone and
// after reranking the top 100 by exact distance.
TEST(QuantizerShared, SiftsmallRecall) {
  const std::string dir = testing::SharedData("siftsmall/");
  if (!testing::Exists(dir + "siftsmall_base.fvecs")) GTEST_SKIP() << "siftsmall not present";
  auto base = ReadAllFloat(dir + "siftsmall_base.fvecs");
  auto queries = ReadAllFloat(dir + "siftsmall_query.fvecs");
  auto gt = ReadAllIds(dir + "siftsmall_groundtruth.ivecs");
  ASSERT_TRUE(base.ok() && queries.ok() && gt.ok());
  struct Want {
    const char* spec;
    double codes_only, reranked;
  };
  for (Want w : {Want{"f16", 0.99, 0.99}, Want{"sq8", 0.9, 0.99}, Want{"pq:32", 0.6, 0.99}, Want{"pq:24", 0.5, 0.99},
                 Want{"pq4:32", 0.5, 0.99}, Want{"rabitq", 0.4, 0.97}, Want{"rabitq:4", 0.8, 0.99}}) {
    auto q = Quantizer::Create(*ParseQuantSpec(w.spec), Metric::kL2, 128);
    ASSERT_TRUE((*q)->Train(base->data.data(), base->rows, TrainParams{}).ok());
    std::vector<uint8_t> codes(base->rows * (*q)->code_size());
    ASSERT_TRUE((*q)->Encode(base->data.data(), base->rows, codes.data()).ok());
    double hit_codes = 0, hit_rerank = 0;
    uint64_t pairs = 0, outside = 0;
    std::vector<float> rec(128);
    std::vector<float> est(base->rows);
    std::vector<int32_t> order(base->rows);
    PreparedQuery pq;
    for (uint64_t qi = 0; qi < queries->rows; ++qi) {
      ASSERT_TRUE((*q)->Prepare(queries->row(qi), &pq).ok());
      (*q)->ScoreBlock(pq, codes.data(), base->rows, est.data());
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + 100, order.end(), [&](int a, int b) { return est[a] < est[b]; });
      std::vector<std::pair<double, int32_t>> rr;
      for (int r = 0; r < 100; ++r)
        rr.push_back({testing::ReferenceDistance(Metric::kL2, queries->row(qi), base->row(order[r]), 128), order[r]});
      // The same bounds as on synthetic data, on real data.
      for (int r = 0; r < 100; ++r) {
        const uint8_t* code = codes.data() + uint64_t(order[r]) * (*q)->code_size();
        const double exact = rr[r].first, e = est[order[r]];
        ++pairs;
        double bound;
        if ((*q)->spec().kind == QuantKind::kRaBitQ) {
          bound = (*q)->ErrorBound(pq, code) * 1.0001;
        } else {
          (*q)->Decode(code, rec.data());
          double rsq = 0;
          for (int j = 0; j < 128; ++j) rsq += std::pow(double{base->row(order[r])[j]} - rec[j], 2);
          bound = 2 * std::sqrt(rsq) * std::sqrt(std::max(e, 0.0)) + rsq;
          if ((*q)->spec().kind == QuantKind::kPQ4) bound += (*q)->spec().pq_m * pq.scale * 0.5;
          if ((*q)->spec().kind == QuantKind::kSQ8) bound += Sq8QueryRounding(pq, code, 128, Metric::kL2);
        }
        outside += std::fabs(e - exact) > bound + 1e-3 * (std::fabs(exact) + 1);
      }
      std::sort(rr.begin(), rr.end());
      const int32_t* g = gt->row(qi);
      for (int r = 0; r < 10; ++r) {
        hit_codes += std::count(g, g + 10, order[r]);
        hit_rerank += std::count(g, g + 10, rr[r].second);
      }
    }
    const double n = 10.0 * queries->rows;
    EXPECT_GE(hit_codes / n, w.codes_only) << w.spec << " by codes alone";
    EXPECT_GE(hit_rerank / n, w.reranked) << w.spec << " after rerank 100";
    if ((*q)->spec().kind == QuantKind::kRaBitQ) {
      EXPECT_LE(outside, pairs / 100) << w.spec;
    } else {
      EXPECT_EQ(outside, 0u) << w.spec << ": estimates outside the bound";
    }
  }
}

}  // namespace
}  // namespace vx
