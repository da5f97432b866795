#include "quant/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/synth.h"

namespace vx {
namespace {

std::vector<float> Data(uint64_t n, uint32_t d, uint64_t seed) {
  SynthParams p;
  p.dim = d;
  p.clusters = 20;
  p.seed = seed;
  std::vector<float> x(n * d);
  SyntheticGenerator(p).Generate(SyntheticGenerator::kBaseStream, 0, n, x.data());
  return x;
}

TEST(KMeans, DeterministicPerSeedWhateverTheThreadCount) {
  const auto x = Data(6000, 16, 3);
  KMeansParams p;
  p.k = 50;
  p.iterations = 8;
  p.threads = 1;
  auto a = KMeans(x.data(), 6000, 16, p);
  p.threads = 2;
  auto b = KMeans(x.data(), 6000, 16, p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->centroids, b->centroids);
  p.seed = 99;
  auto c = KMeans(x.data(), 6000, 16, p);
  EXPECT_NE(a->centroids, c->centroids);
}

TEST(KMeans, ObjectiveNeverRises) {
  const auto x = Data(8000, 24, 5);
  KMeansParams p;
  p.k = 64;
  p.iterations = 15;
  auto r = KMeans(x.data(), 8000, 24, p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->objective.size(), 15u);
  for (size_t i = 1; i < r->objective.size(); ++i) {
    // sgemm may pick a centroid a float rounding away from the nearest.
    EXPECT_LE(r->objective[i], r->objective[i - 1] * (1 + 1e-6)) << "iteration " << i;
  }
  EXPECT_LT(r->objective.back(), r->objective.front());
}

TEST(KMeans, AssignNearestMatchesBruteForce) {
  const auto x = Data(3000, 12, 7);
  KMeansParams p;
  p.k = 37;
  auto r = KMeans(x.data(), 3000, 12, p);
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> assign(3000);
  std::vector<float> dist(3000);
  AssignNearest(x.data(), 3000, r->centroids.data(), 37, 12, 2, assign.data(), dist.data());
  int mismatches = 0;
  for (uint64_t i = 0; i < 3000; ++i) {
    double best = 1e300;
    int arg = -1;
    for (int c = 0; c < 37; ++c) {
      double s = 0;
      for (int j = 0; j < 12; ++j) s += std::pow(double{x[i * 12 + j]} - r->centroids[c * 12 + j], 2);
      if (s < best) {
        best = s;
        arg = c;
      }
    }
    if (arg != assign[i]) {
      ++mismatches;  // allowed only for a near tie
      double s = 0;
      for (int j = 0; j < 12; ++j) s += std::pow(double{x[i * 12 + j]} - r->centroids[assign[i] * 12 + j], 2);
      EXPECT_NEAR(s, best, 1e-4 * (best + 1));
    }
    EXPECT_NEAR(dist[i], best, 1e-3 * (best + 1));
  }
  EXPECT_LT(mismatches, 5);
}

TEST(KMeans, BalancedCapsClusterSizes) {
  const auto x = Data(10000, 16, 11);  // uneven Zipf-like clusters
  KMeansParams p;
  p.k = 40;
  p.iterations = 10;
  p.balanced = true;
  p.balance_factor = 1.25f;
  auto r = KMeans(x.data(), 10000, 16, p);
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> cand(10000 * 8), assign(10000);
  std::vector<float> cd(10000 * 8);
  AssignTopNearest(x.data(), 10000, r->centroids.data(), 40, 16, 8, 2, cand.data(), cd.data());
  for (int i = 0; i < 10000; ++i) assign[i] = cand[i * 8];
  const uint64_t cap = 313;  // ceil(1.25 * 10000 / 40)
  BalanceAssignment(10000, 40, 8, cand.data(), cd.data(), cap, assign.data());
  std::vector<uint64_t> size(40);
  for (int32_t a : assign) ++size[a];
  EXPECT_LE(*std::max_element(size.begin(), size.end()), cap);
  // Unbalanced k-means on the same data has far larger clusters.
  p.balanced = false;
  auto u = KMeans(x.data(), 10000, 16, p);
  AssignNearest(x.data(), 10000, u->centroids.data(), 40, 16, 2, assign.data(), cd.data());
  std::fill(size.begin(), size.end(), 0);
  for (int32_t a : assign) ++size[a];
  EXPECT_GT(*std::max_element(size.begin(), size.end()), cap);
}

TEST(KMeans, TooFewPoints) {
  std::vector<float> x(10 * 4, 1.0f);
  KMeansParams p;
  p.k = 11;
  EXPECT_EQ(KMeans(x.data(), 10, 4, p).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vx
