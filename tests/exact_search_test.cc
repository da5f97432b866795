// Exact search against a naive double-precision brute force, and against the
// official siftsmall / bigann-10k ground truth when ../shared/data is present.
#include "core/exact_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/synth.h"
#include "test_util.h"

namespace vx {
namespace {

using testing::TempDir;

struct Fixture {
  TempDir dir;
  std::string base_path;
  FloatMatrix base, queries;
};

void MakeData(Fixture* f, uint64_t n, uint32_t d, uint64_t nq, bool normalize) {
  SynthParams p;
  p.dim = d;
  p.clusters = 12;
  p.normalize = normalize;
  SyntheticGenerator gen(p);
  f->base.rows = n;
  f->base.dim = d;
  f->base.data.resize(n * d);
  gen.Generate(SyntheticGenerator::kBaseStream, 0, n, f->base.data.data());
  f->queries.rows = nq;
  f->queries.dim = d;
  f->queries.data.resize(nq * d);
  gen.Generate(SyntheticGenerator::kQueryStream, 0, nq, f->queries.data.data());
  f->base_path = f->dir / "base.fbin";
  ASSERT_TRUE(WriteMatrix(f->base_path, DType::kF32, d, f->base.data.data(), n).ok());
}

class ExactSearchMetricTest : public ::testing::TestWithParam<Metric> {};

TEST_P(ExactSearchMetricTest, MatchesNaiveBruteForceAcrossBlocksAndThreads) {
  const Metric metric = GetParam();
  Fixture f;
  MakeData(&f, 5000, 48, 70, metric != Metric::kL2);
  constexpr uint32_t kK = 20;
  ExactSearchParams p;
  p.metric = metric;
  p.k = kK;
  p.threads = 2;
  p.memory_bytes = 200 * 1024;  // ~ 500-row blocks: many blocks, prefetch overlap
  uint64_t last_progress = 0;
  p.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GT(done, last_progress);
    EXPECT_EQ(total, 5000u);
    last_progress = done;
  };
  auto reader = VectorReader::Open(f.base_path);
  ASSERT_TRUE(reader.ok());
  auto got = ExactSearch(**reader, f.queries, p);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(last_progress, 5000u);

  std::vector<int64_t> order(f.base.rows);
  for (uint64_t qi = 0; qi < f.queries.rows; ++qi) {
    std::vector<double> dist(f.base.rows);
    for (uint64_t i = 0; i < f.base.rows; ++i) {
      dist[i] = testing::ReferenceDistance(metric, f.queries.row(qi), f.base.row(i), f.base.dim);
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + kK + 1, order.end(),
                      [&](int64_t a, int64_t b) { return dist[a] < dist[b] || (dist[a] == dist[b] && a < b); });
    for (uint32_t r = 0; r < kK; ++r) {
      const double want = dist[order[r]];
      const float have = got->dists[qi * kK + r];
      const double tol = 1e-5 * (std::fabs(want) + 1.0);
      ASSERT_NEAR(have, want, tol) << "query " << qi << " rank " << r;
      // The id must match unless a neighbour at the next rank is within
      // float error (a near-tie the float kernel may order either way).
      const int32_t id = got->ids[qi * kK + r];
      if (id != order[r]) {
        EXPECT_NEAR(dist[id], want, tol) << "query " << qi << " rank " << r << ": wrong id";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllMetrics, ExactSearchMetricTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const auto& info) { return std::string(MetricName(info.param)); });

TEST(ExactSearch, TiesGoToTheLowerId) {
  TempDir dir;
  // Rows 0..9 identical; rows 10..19 another point: every distance ties.
  std::vector<float> base(20 * 4);
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 4; ++j) base[i * 4 + j] = i < 10 ? 1.0f : 3.0f;
  }
  ASSERT_TRUE(WriteMatrix(dir / "b.fvecs", DType::kF32, 4, base.data(), 20).ok());
  FloatMatrix q{1, 4, {1, 1, 1, 1}};
  auto reader = VectorReader::Open(dir / "b.fvecs");
  ExactSearchParams p;
  p.k = 15;
  p.memory_bytes = 1;  // smallest blocks
  auto got = ExactSearch(**reader, q, p);
  ASSERT_TRUE(got.ok());
  for (int r = 0; r < 15; ++r) EXPECT_EQ(got->ids[r], r);
}

TEST(ExactSearch, RejectsBadInput) {
  TempDir dir;
  std::vector<float> base = {1, 0, 0, 0, 0, 0};  // record 1 is zero
  ASSERT_TRUE(WriteMatrix(dir / "b.fbin", DType::kF32, 3, base.data(), 2).ok());
  ExactSearchParams p;
  p.metric = Metric::kCosine;
  p.k = 1;
  {
    auto reader = VectorReader::Open(dir / "b.fbin");
    auto r = ExactSearch(**reader, FloatMatrix{1, 3, {1, 1, 1}}, p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("record 1 is a zero vector"), std::string::npos) << r.status().ToString();
  }
  {
    auto reader = VectorReader::Open(dir / "b.fbin");
    auto r = ExactSearch(**reader, FloatMatrix{1, 3, {0, 0, 0}}, p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("query 0 is a zero vector"), std::string::npos);
  }
  p.metric = Metric::kL2;
  {
    auto reader = VectorReader::Open(dir / "b.fbin");
    auto r = ExactSearch(**reader, FloatMatrix{1, 2, {0, 0}}, p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("dimension mismatch"), std::string::npos);
  }
  p.k = 3;
  {
    auto reader = VectorReader::Open(dir / "b.fbin");
    auto r = ExactSearch(**reader, FloatMatrix{1, 3, {0, 0, 0}}, p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("k (3) exceeds the base size (2 rows)"), std::string::npos);
  }
}

// The official TEXMEX ground truth: our distance at every rank must equal the
// exact integer squared distance (ids may differ only among equal distances).
void CheckOfficial(const std::string& base, const std::string& query, const std::string& sqdist) {
  if (!testing::Exists(base)) GTEST_SKIP() << base << " not present";
  auto queries = ReadAllFloat(query);
  ASSERT_TRUE(queries.ok()) << queries.status().ToString();
  auto official = ReadAllIds(sqdist);
  ASSERT_TRUE(official.ok()) << official.status().ToString();
  auto reader = VectorReader::Open(base);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ExactSearchParams p;
  p.k = 100;
  auto got = ExactSearch(**reader, *queries, p);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(official->rows, got->num_queries);
  for (uint64_t q = 0; q < got->num_queries; ++q) {
    for (uint32_t r = 0; r < 100; ++r) {
      ASSERT_EQ(got->dists[q * 100 + r], static_cast<float>(official->row(q)[r])) << "query " << q << " rank " << r;
    }
  }
}

TEST(ExactSearchShared, ReproducesSiftsmallGroundTruth) {
  CheckOfficial(testing::SharedData("siftsmall/siftsmall_base.fvecs"),
                testing::SharedData("siftsmall/siftsmall_query.fvecs"),
                testing::SharedData("siftsmall/siftsmall_groundtruth_sqdist.ivecs"));
}

TEST(ExactSearchShared, ReproducesBigann10kGroundTruth) {
  CheckOfficial(testing::SharedData("bigann-10k/bigann-10k_base.bvecs"),
                testing::SharedData("bigann-10k/bigann-10k_query.bvecs"),
                testing::SharedData("bigann-10k/bigann-10k_groundtruth_sqdist.ivecs"));
}

}  // namespace
}  // namespace vx
