// Helpers shared by the index tests (HNSW, IVF): a generated set with exact
// ground truth, search-all, recall, result comparison, byte flipping.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/dataset.h"
#include "core/exact_search.h"
#include "core/synth.h"
#include "test_util.h"
#include "vx/index.h"

namespace vx {

using testing::TempDir;

inline double Recall(const std::vector<std::vector<SearchResult>>& res, const IdMatrix& gt, uint32_t k) {
  uint64_t hits = 0;
  for (uint64_t i = 0; i < res.size(); ++i) {
    for (const auto& r : res[i]) hits += std::count(gt.row(i), gt.row(i) + k, static_cast<int32_t>(r.id));
  }
  return double(hits) / (double(res.size()) * k);
}

inline std::vector<std::vector<SearchResult>> SearchAll(const Index& index, const FloatMatrix& q, const SearchParams& p) {
  std::vector<std::vector<SearchResult>> out(q.rows);
  for (uint64_t i = 0; i < q.rows; ++i) {
    const Status s = index.Search(q.row(i), p, &out[i], nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

// SearchAll on `threads` threads (queries interleaved); failed searches fail the test.
inline std::vector<std::vector<SearchResult>> SearchAllConcurrently(const Index& index, const FloatMatrix& q,
                                                                    const SearchParams& p, int threads) {
  std::vector<std::vector<SearchResult>> out(q.rows);
  std::vector<Status> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint64_t i = t; i < q.rows; i += threads) {
        const Status s = index.Search(q.row(i), p, &out[i], nullptr);
        if (!s.ok()) errors[t] = s;
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const Status& s : errors) EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

inline void ExpectSame(const std::vector<std::vector<SearchResult>>& a, const std::vector<std::vector<SearchResult>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size()) << "query " << i;
    for (size_t j = 0; j < a[i].size(); ++j) {
      EXPECT_EQ(a[i][j].id, b[i][j].id) << "query " << i << " rank " << j;
      EXPECT_EQ(a[i][j].distance, b[i][j].distance) << "query " << i << " rank " << j;
    }
  }
}

// A small generated set with exact ground truth, built once per metric.
struct Built {
  TempDir dir;
  FloatMatrix queries;
  IdMatrix gt;                 // exact top-10 ids
  std::vector<float> gt_dist;  // and their distances
  std::string index() const { return dir / "index"; }
};

// 6000 x 32 from the Gaussian-mixture generator, 50 queries, exact top-10
// under o.metric, and an index built with `o`.
inline std::unique_ptr<Built> BuildSyntheticIndex(const BuildOptions& o) {
  auto b = std::make_unique<Built>();
  SynthParams sp;
  sp.dim = 32;
  sp.clusters = 20;
  SyntheticGenerator gen(sp);
  std::vector<float> base(6000 * 32);
  gen.Generate(SyntheticGenerator::kBaseStream, 0, 6000, base.data());
  EXPECT_TRUE(WriteMatrix(b->dir / "base.fbin", DType::kF32, 32, base.data(), 6000).ok());
  b->queries = FloatMatrix{50, 32, std::vector<float>(50 * 32)};
  gen.Generate(SyntheticGenerator::kQueryStream, 0, 50, b->queries.data.data());
  auto reader = VectorReader::Open(b->dir / "base.fbin");
  ExactSearchParams ep;
  ep.metric = o.metric;
  ep.k = 10;
  auto exact = ExactSearch(**reader, b->queries, ep);
  EXPECT_TRUE(exact.ok());
  b->gt = IdMatrix{50, 10, exact->ids};
  b->gt_dist = exact->dists;
  const Status s = BuildIndex(b->dir / "base.fbin", b->index(), o);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return b;
}

inline void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x20));
}

}  // namespace vx
