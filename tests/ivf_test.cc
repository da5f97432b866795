// The disk-resident IVF index end to end: build (streamed), open, search.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "index_test_util.h"
#include "io/fault_env.h"
#include "ivf/layout.h"
#include "quant/quantizer.h"
#include "test_util.h"
#include "vx/index.h"

namespace vx {
namespace {

BuildOptions Ivf(Metric metric, const std::string& quant, uint32_t lists, uint32_t replicas = 0) {
  BuildOptions o;
  o.type = IndexType::kIvf;
  o.metric = metric;
  o.quant = quant;
  o.lists = lists;
  o.replicas = replicas;
  o.threads = 2;
  return o;
}

// Every result equals the exact top-k: same ids, distances within float
// rounding of the exact search's (a different kernel summation order).
void ExpectExact(const Built& b, const std::vector<std::vector<SearchResult>>& res) {
  for (uint64_t i = 0; i < res.size(); ++i) {
    ASSERT_EQ(res[i].size(), 10u) << "query " << i;
    for (size_t j = 0; j < 10; ++j) {
      EXPECT_EQ(res[i][j].key, b.gt.row(i)[j]) << "query " << i << " rank " << j;
      EXPECT_NEAR(res[i][j].distance, b.gt_dist[i * 10 + j], 1e-3 * (1 + std::abs(b.gt_dist[i * 10 + j])));
    }
  }
}

TEST(Ivf, DefaultListsFollowPgvector) {
  EXPECT_EQ(ivf::DefaultLists(500), 1u);
  EXPECT_EQ(ivf::DefaultLists(10'000), 10u);
  EXPECT_EQ(ivf::DefaultLists(1'000'000), 1000u);
  EXPECT_EQ(ivf::DefaultLists(4'000'000), 2000u);
  EXPECT_EQ(ivf::DefaultLists(5'000'000), 2236u);
}

class IvfMetricTest : public ::testing::TestWithParam<std::tuple<Metric, uint32_t>> {};

// probes = lists scans every entry; reranking all of them must give exactly
// the exact search's answer (every row reachable, replicas removed).
TEST_P(IvfMetricTest, AllProbesAndFullRerankEqualExactSearch) {
  const auto [metric, replicas] = GetParam();
  auto b = BuildSyntheticIndex(Ivf(metric, "sq8", 16, replicas));
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const IndexInfo& info = (*index)->info();
  EXPECT_EQ(info.type, IndexType::kIvf);
  EXPECT_EQ(info.lists, 16u);
  EXPECT_EQ(info.replicas, replicas);
  if (replicas)
    EXPECT_GT(info.entries, info.count) << "the closure rule replicated nothing";
  else
    EXPECT_EQ(info.entries, info.count);
  SearchParams p;
  p.probes = 16;
  p.rerank = static_cast<uint32_t>(info.count);
  const auto res = SearchAll(**index, b->queries, p);
  ExpectExact(*b, res);
  // And with the default rerank, still no duplicates and sorted results.
  p.rerank = 0;
  for (const auto& r : SearchAll(**index, b->queries, p)) {
    std::set<int64_t> ids;
    for (size_t j = 0; j < r.size(); ++j) {
      EXPECT_TRUE(ids.insert(r[j].key).second) << "row " << r[j].key << " returned twice";
      if (j) {
        EXPECT_LE(r[j - 1].distance, r[j].distance);
      }
    }
  }
}

// Every row scanned and 3000 reranked without a bound; with it, the exact
// answer from a few hundred.
TEST(Ivf, TheErrorBoundPrunesTheRerank) {
  SearchParams p;
  p.probes = 16;
  p.rerank = 3000;
  ExpectTheErrorBoundPrunesTheRerank(Ivf(Metric::kL2, "", 16), p, 1.0, {"rabitq:4"});
  // sq8's bound costs two passes over a code, too much for every entry a
  // scan admits (error_bound_is_cheap): IVF reranks all its candidates.
  BuildOptions o = Ivf(Metric::kL2, "", 16);
  o.quant = "sq8";
  auto b = BuildSyntheticIndex(o);
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok());
  SearchStats stats;
  std::vector<SearchResult> out;
  for (uint64_t i = 0; i < b->queries.rows; ++i) ASSERT_TRUE((*index)->Search(b->queries.row(i), p, &out, &stats).ok());
  EXPECT_EQ(stats.vectors_reranked, uint64_t{(*index)->RerankDepth(p)} * b->queries.rows);
}

// Every row scanned, none kept out of the rerank by its depth: the rerank
// reads the 10 nearest estimates, then exactly the other rows whose lower
// bound (estimate - error bound) is neither above the 10th smallest upper
// bound nor above the 10th exact distance among those 10, counted here
// from the index's own quantizer over every row.
TEST(Ivf, TheRerankReadsExactlyTheRowsTheBoundCannotRuleOut) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "rabitq:2", 4));
  auto quantizer = Quantizer::Deserialize(ReadFileBytes(b->file("quantizer")));
  ASSERT_TRUE(quantizer.ok()) << quantizer.status().ToString();
  auto reader = VectorReader::Open(b->dir / "base.fbin");
  ASSERT_TRUE(reader.ok());
  std::vector<float> base(6000 * 32);
  ASSERT_TRUE((*reader)->ReadFloat(6000, base.data()).ok());
  const size_t cs = (*quantizer)->code_size();
  std::vector<uint8_t> codes(6000 * cs);
  ASSERT_TRUE((*quantizer)->Encode(base.data(), 6000, codes.data(), 1).ok());
  uint64_t expected = 0, in_reach = 0;
  std::vector<float> est(6000), upper(6000);
  std::vector<uint32_t> order(6000);
  for (uint64_t i = 0; i < b->queries.rows; ++i) {
    PreparedQuery pq;
    ASSERT_TRUE((*quantizer)->Prepare(b->queries.row(i), &pq).ok());
    (*quantizer)->ScoreBlock(pq, codes.data(), 6000, est.data());
    for (size_t r = 0; r < 6000; ++r) upper[r] = est[r] + (*quantizer)->ErrorBound(pq, codes.data() + r * cs);
    std::vector<float> sorted = upper;
    std::nth_element(sorted.begin(), sorted.begin() + 9, sorted.end());
    const auto lower = [&](uint32_t r) { return est[r] - (upper[r] - est[r]); };
    order.clear();
    for (uint32_t r = 0; r < 6000; ++r) {
      if (lower(r) <= sorted[9]) order.push_back(r);
    }
    in_reach += order.size();
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t c) { return est[a] < est[c]; });
    float kth = 0;
    for (size_t j = 0; j < 10; ++j) {
      float d = 0;
      for (size_t t = 0; t < 32; ++t) {
        const float diff = base[order[j] * 32 + t] - b->queries.row(i)[t];
        d += diff * diff;
      }
      kth = std::max(kth, d);
    }
    expected += 10;
    for (size_t j = 10; j < order.size(); ++j) expected += lower(order[j]) <= kth;
  }
  ASSERT_LT(in_reach, 6000u * b->queries.rows / 4) << "a bound this loose tests little";
  ASSERT_LT(expected, in_reach) << "the exact 10th distance rules out nothing the upper bounds do not";
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  SearchParams p;
  p.probes = 4;
  p.rerank = 6000;
  SearchStats stats;
  std::vector<std::vector<SearchResult>> got(b->queries.rows);
  for (uint64_t i = 0; i < b->queries.rows; ++i)
    ASSERT_TRUE((*index)->Search(b->queries.row(i), p, &got[i], &stats).ok());
  EXPECT_EQ(stats.vectors_reranked, expected);
  ExpectExact(*b, got);
}

// List pages of 4-bit fast-scan codes: scored by the SIMD block kernel page
// by page (a broken scan would rerank near-random rows: recall ~0.1).
TEST(Ivf, Pq4ListPagesRankWell) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "pq4:16", 16, 1));
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->info().quant, "pq4:16");
  SearchParams p;
  p.probes = 16;
  p.rerank = 60;
  EXPECT_GE(Recall(SearchAll(**index, b->queries, p), b->gt, 10), 0.95);
}

INSTANTIATE_TEST_SUITE_P(AllMetrics, IvfMetricTest,
                         ::testing::Combine(::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                                            ::testing::Values(0u, 2u)),
                         [](const auto& info) {
                           return std::string(MetricName(std::get<0>(info.param))) + "_replicas" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(Ivf, SiftsmallRecallNeverFallsAsProbesRise) {
  const std::string d = testing::SharedData("siftsmall/");
  if (!testing::Exists(d + "siftsmall_base.fvecs")) GTEST_SKIP() << "siftsmall not present";
  TempDir dir;
  BuildOptions o = Ivf(Metric::kL2, "sq8", 0);  // lists by pgvector's rule: 10 for 10k rows
  ASSERT_TRUE(BuildIndex(d + "siftsmall_base.fvecs", dir / "idx", o).ok());
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 256 << 10;
  auto index = Index::Open(dir / "idx", io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ((*index)->info().lists, 10u);
  auto q = ReadAllFloat(d + "siftsmall_query.fvecs");
  auto gt = ReadAllIds(d + "siftsmall_groundtruth.ivecs");
  double prev = 0;
  for (uint32_t probes = 1; probes <= 10; ++probes) {
    SearchParams p;
    p.probes = probes;
    const double recall = Recall(SearchAll(**index, *q, p), *gt, 10);
    EXPECT_GE(recall, prev) << "probes " << probes;
    prev = recall;
  }
  EXPECT_GE(prev, 0.98) << "all lists scanned, top 100 by sq8 codes reranked";
}

// The default rerank depth is max(100, 25 x probes): deeper scans rerank
// more, so raising probes keeps raising recall instead of levelling off at
// what the top 100 by code hold.
TEST(Ivf, DefaultRerankGrowsWithProbes) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "pq:1", 24));  // coarse codes: ranking by them misses much
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok());
  SearchParams p;
  EXPECT_EQ((*index)->RerankDepth(p), 100u);
  p.probes = 12;
  EXPECT_EQ((*index)->RerankDepth(p), 300u);
  p.probes = 1000;  // clamped to the 24 lists
  EXPECT_EQ((*index)->RerankDepth(p), 600u);
  p.k = 700;
  EXPECT_EQ((*index)->RerankDepth(p), 700u);
  p.k = 10;
  p.rerank = 40;
  EXPECT_EQ((*index)->RerankDepth(p), 40u);

  SearchParams deep;
  deep.probes = 24;  // every list: only the rerank depth limits recall
  const auto by_default = SearchAll(**index, b->queries, deep);
  deep.rerank = 600;
  ExpectSame(by_default, SearchAll(**index, b->queries, deep));
  deep.rerank = 100;
  EXPECT_GT(Recall(by_default, b->gt, 10), Recall(SearchAll(**index, b->queries, deep), b->gt, 10) + 0.02);
}

TEST(Ivf, TinyPoolGivesTheSameResultsAsAFullyCachedOne) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "pq:8", 24, 1));
  IndexOptions big;
  big.structure_cache_bytes = big.vector_cache_bytes = 64 << 20;
  IndexOptions tiny;
  tiny.structure_cache_bytes = tiny.vector_cache_bytes = 4 * 4096;  // lists are read in chunks of one page
  auto a = Index::Open(b->index(), big);
  auto c = Index::Open(b->index(), tiny);
  ASSERT_TRUE(a.ok() && c.ok());
  SearchParams p;
  p.probes = 6;
  const auto want = SearchAll(**a, b->queries, p);
  ExpectSame(want, SearchAll(**c, b->queries, p));
  EXPECT_GE(Recall(want, b->gt, 10), 0.8);
}

TEST(Ivf, PrewarmFillsThePool) {
  SearchParams p;
  p.probes = 8;
  ExpectPrewarmFillsThePool(*BuildSyntheticIndex(Ivf(Metric::kL2, "f16", 8)), p);  // 64 B codes: many list pages
}

TEST(Ivf, ConcurrentSearchesAgreeWithSerial) {
  SearchParams p;
  p.probes = 3;
  ExpectConcurrentSearchesAgreeWithSerial(*BuildSyntheticIndex(Ivf(Metric::kL2, "sq8", 16, 1)), p);
}

TEST(Ivf, CorruptListPageIsCorruption) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "f16", 8));  // 64 B codes: lists span many pages
  const std::string path = b->file("lists");
  const uint64_t size = std::filesystem::file_size(path);
  ASSERT_GT(size, 80u << 10);
  // Past the first 64 KiB (the head checksum, checked at open).
  for (uint64_t off = (64 << 10) + 100; off < size; off += 4096) FlipByte(path, off);
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  SearchParams p;
  p.probes = 8;
  std::vector<SearchResult> r;
  const Status s = (*index)->Search(b->queries.row(0), p, &r, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(path + " page "), std::string::npos) << s.message();
  EXPECT_TRUE(r.empty());
}

TEST(Ivf, OpenNamesADamagedDirectoryOrCentroids) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "sq8", 8));
  for (const char* file : {"directory", "centroids", "quantizer"}) {
    FlipByte(b->file(file), 3);
    auto r = Index::Open(b->index(), IndexOptions{});
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find(file), std::string::npos) << r.status().ToString();
    FlipByte(b->file(file), 3);  // restore
  }
  EXPECT_TRUE(Index::Open(b->index(), IndexOptions{}).ok());
}

// A base larger than the build budget: the sample, the blocks and the list
// passes must all shrink to fit, and the index must still be exact at
// probes = lists with a full rerank.
TEST(Ivf, StreamedBuildOfABaseLargerThanTheBudget) {
  BuildOptions o = Ivf(Metric::kL2, "sq8", 32, 1);
  o.build_memory_bytes = 640 << 10;  // for a 750 KB base
  std::map<std::string, int> calls;
  o.progress = [&](uint64_t, uint64_t, const char* phase) { ++calls[phase]; };
  auto b = BuildSyntheticIndex(o);
  ASSERT_TRUE(testing::Exists(b->index() + "/MANIFEST"));
  EXPECT_GT(calls["assign"], 1) << "the base should be read in several blocks";
  EXPECT_GT(calls["write lists"], 1) << "the lists should be gathered in several passes";
  EXPECT_FALSE(testing::Exists(b->file("entries.tmp"))) << "the spill file is removed";
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  SearchParams p;
  p.probes = 32;
  p.rerank = 6000;
  ExpectExact(*b, SearchAll(**index, b->queries, p));
}

TEST(Ivf, BuildRefusesWhatItCannotDo) {
  TempDir dir;
  std::vector<float> base(100 * 8);
  for (size_t i = 0; i < base.size(); ++i) base[i] = float(i % 13);
  ASSERT_TRUE(WriteMatrix(dir / "b.fbin", DType::kF32, 8, base.data(), 100).ok());
  BuildOptions o = Ivf(Metric::kL2, "sq8", 200);
  Status s = BuildIndex(dir / "b.fbin", dir / "i", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("lists must not exceed rows"), std::string::npos) << s.ToString();
  o.lists = 4;
  o.build_memory_bytes = 1000;
  s = BuildIndex(dir / "b.fbin", dir / "i", o);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("build memory budget"), std::string::npos) << s.ToString();
  EXPECT_FALSE(testing::Exists(dir / "i/MANIFEST"));
}

// ENOSPC in the middle of writing the lists: the build fails with the error,
// and no manifest (so no half-built index) is left behind.
TEST(Ivf, BuildFailingMidWriteLeavesNoIndex) {
  auto b = BuildSyntheticIndex(Ivf(Metric::kL2, "sq8", 8));  // for its base file
  FaultEnv fault(DefaultEnv());
  fault.FailWritesAfter("/lists", 20'000);
  BuildOptions o = Ivf(Metric::kL2, "sq8", 8);
  o.env = &fault;
  const std::string dir = b->dir / "failed";
  const Status s = BuildIndex(b->dir / "base.fbin", dir, o);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("lists"), std::string::npos) << s.ToString();
  EXPECT_FALSE(testing::Exists(dir + "/MANIFEST"));
  EXPECT_FALSE(Index::Open(dir, IndexOptions{}).ok());
}

}  // namespace
}  // namespace vx
