// Helpers shared by the index tests (HNSW, IVF): a generated set with exact
// ground truth, search-all, recall, result comparison, byte flipping, file
// rewriting.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/dataset.h"
#include "core/exact_search.h"
#include "core/synth.h"
#include "io/env.h"
#include "io/manifest.h"
#include "test_util.h"
#include "vx/index.h"

namespace vx {

using testing::TempDir;

inline double Recall(const std::vector<std::vector<SearchResult>>& res, const IdMatrix& gt, uint32_t k) {
  uint64_t hits = 0;
  for (uint64_t i = 0; i < res.size(); ++i) {
    for (const auto& r : res[i]) hits += std::count(gt.row(i), gt.row(i) + k, r.key);
  }
  return double(hits) / (double(res.size()) * k);
}

inline std::vector<std::vector<SearchResult>> SearchAll(const Index& index, const FloatMatrix& q,
                                                        const SearchParams& p) {
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

inline void ExpectSame(const std::vector<std::vector<SearchResult>>& a,
                       const std::vector<std::vector<SearchResult>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size()) << "query " << i;
    for (size_t j = 0; j < a[i].size(); ++j) {
      EXPECT_EQ(a[i][j].key, b[i][j].key) << "query " << i << " rank " << j;
      EXPECT_EQ(a[i][j].distance, b[i][j].distance) << "query " << i << " rank " << j;
    }
  }
}

// Where file `name` of the committed generation of the index in `dir` lives.
inline std::string IndexFile(const std::string& dir, const std::string& name) {
  auto m = ReadManifest(DefaultEnv(), dir);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? m->FilePath(dir, name) : dir + "/" + name;
}

// A small generated set with exact ground truth, built once per metric.
struct Built {
  TempDir dir;
  FloatMatrix queries;
  IdMatrix gt;                 // exact top-10 ids
  std::vector<float> gt_dist;  // and their distances
  std::string index() const { return dir / "index"; }
  std::string file(const std::string& name) const { return IndexFile(index(), name); }
};

// Options for a small index of `type` that builds the same files every time
// (one thread): sq8 codes, 8 IVF lists.
inline BuildOptions DeterministicOptions(IndexType type) {
  BuildOptions o;
  o.type = type;
  o.quant = "sq8";
  o.lists = 8;
  o.threads = 1;
  return o;
}

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

// Searches on 4 threads agree with serial ones on a pool of 16 pages a
// class (smaller than the test sets' structure files), first alone, then on
// 3 threads beside one that prewarms 5 times, each prewarm succeeding. The
// index tests' concurrency check, run under TSan too.
inline void ExpectConcurrentSearchesAgreeWithSerial(const Built& b, const SearchParams& p) {
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 16 * 4096;
  io.max_searchers = 4;
  auto index = Index::Open(b.index(), io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_GT((*index)->info().structure_bytes, io.structure_cache_bytes) << "prewarm would not evict";
  const auto serial = SearchAll(**index, b.queries, p);
  ExpectSame(serial, SearchAllConcurrently(**index, b.queries, p, 4));
  std::vector<Status> prewarms;
  std::thread prewarm([&] {
    for (int i = 0; i < 5; ++i) prewarms.push_back((*index)->Prewarm().status());
  });
  const auto beside_prewarm = SearchAllConcurrently(**index, b.queries, p, 3);
  prewarm.join();
  ExpectSame(serial, beside_prewarm);
  ASSERT_EQ(prewarms.size(), 5u);
  for (const Status& s : prewarms) EXPECT_TRUE(s.ok()) << s.ToString();
}

// The rerank of a search with `p` (a deep one) reads, under each of
// `quants`, only the candidates their error bound cannot rule out of the k
// nearest, a quarter or less, and still finds the exact top 10 (recall@10 >=
// min_recall against exact search).
inline void ExpectTheErrorBoundPrunesTheRerank(BuildOptions o, const SearchParams& p, double min_recall,
                                               std::initializer_list<const char*> quants) {
  for (const char* quant : quants) {
    SCOPED_TRACE(quant);
    o.quant = quant;
    auto b = BuildSyntheticIndex(o);
    auto index = Index::Open(b->index(), IndexOptions{});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    SearchStats stats;
    std::vector<std::vector<SearchResult>> got(b->queries.rows);
    for (uint64_t i = 0; i < b->queries.rows; ++i)
      ASSERT_TRUE((*index)->Search(b->queries.row(i), p, &got[i], &stats).ok());
    const uint64_t all = uint64_t{(*index)->RerankDepth(p)} * b->queries.rows;
    EXPECT_LE(stats.vectors_reranked * 4, all) << "the bound ruled out too few candidates";
    EXPECT_GE(stats.vectors_reranked, uint64_t{p.k} * b->queries.rows);
    EXPECT_GE(Recall(got, b->gt, 10), min_recall);
  }
}

// Index::Prewarm: with a pool that holds the structure file (graph or
// lists) it reads every structure page, after which searches with `p` read
// none; with a pool of 8 pages it reads 8; results are an unwarmed index's;
// a damaged page makes it fail with Corruption naming the page.
inline void ExpectPrewarmFillsThePool(const Built& b, const SearchParams& p) {
  IndexOptions big;
  big.structure_cache_bytes = big.vector_cache_bytes = 64 << 20;
  auto cold = Index::Open(b.index(), big);
  ASSERT_TRUE(cold.ok()) << cold.status().ToString();
  const auto want = SearchAll(**cold, b.queries, p);
  const IndexInfo& info = (*cold)->info();
  const uint64_t structure_pages = info.structure_bytes / info.page_size - 1;  // less the file header
  ASSERT_GT(structure_pages, 8u);

  auto warm = Index::Open(b.index(), big);
  ASSERT_TRUE(warm.ok());
  auto pages = (*warm)->Prewarm();
  ASSERT_TRUE(pages.ok()) << pages.status().ToString();
  EXPECT_EQ(*pages, structure_pages);
  SearchStats stats;
  std::vector<std::vector<SearchResult>> got(b.queries.rows);
  for (uint64_t i = 0; i < b.queries.rows; ++i) ASSERT_TRUE((*warm)->Search(b.queries.row(i), p, &got[i], &stats).ok());
  EXPECT_GT(stats.structure_pages, 0u);
  EXPECT_EQ(stats.structure_reads, 0u) << "a search after a full prewarm read structure pages";
  ExpectSame(want, got);

  IndexOptions small = big;
  small.structure_cache_bytes = 8 * info.page_size;
  auto part = Index::Open(b.index(), small);
  ASSERT_TRUE(part.ok());
  pages = (*part)->Prewarm();
  ASSERT_TRUE(pages.ok()) << pages.status().ToString();
  EXPECT_EQ(*pages, 8u);
  ExpectSame(want, SearchAll(**part, b.queries, p));

  // The last page: past the head checksum (first 64 KiB) that Open checks.
  const std::string file = b.file(info.type == IndexType::kIvf ? "lists" : "graph");
  ASSERT_GT(info.structure_bytes, (64u << 10) + info.page_size);
  FlipByte(file, info.structure_bytes - 100);
  auto damaged = Index::Open(b.index(), big);
  ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
  pages = (*damaged)->Prewarm();
  ASSERT_FALSE(pages.ok());
  EXPECT_EQ(pages.status().code(), StatusCode::kCorruption);
  EXPECT_NE(pages.status().message().find(file + " page " + std::to_string(structure_pages)), std::string::npos)
      << pages.status().ToString();
}

// Replaces dir/name with `bytes` and records its new size and checksums in
// the manifest, as a writer would: a test of what Open checks beyond
// checksums (a well-formed file with wrong content).
inline void RewriteIndexFile(const std::string& dir, const std::string& name, const std::string& bytes) {
  auto m = ReadManifest(DefaultEnv(), dir);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::ofstream(m->FilePath(dir, name), std::ios::binary | std::ios::trunc)
      .write(bytes.data(), std::streamsize(bytes.size()));
  auto described = DescribeFile(DefaultEnv(), GenerationDir(dir, m->generation), name);
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  for (ManifestFile& f : m->files) {
    if (f.name == name) f = *described;
  }
  const Status s = WriteManifest(DefaultEnv(), dir, *m);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace vx
