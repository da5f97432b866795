// The index layer both index types share: keys, builds from any vector
// source, progress and cancel, and the candidate check.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "core/dataset.h"
#include "core/synth.h"
#include "index/index_base.h"
#include "index_test_util.h"
#include "io/page.h"
#include "test_util.h"
#include "vx/index.h"

namespace vx {
namespace {

using testing::TempDir;

// 3000 x 16 generated rows, written to dir/base.fbin, and 20 queries.
struct Rows {
  std::vector<float> base, queries;
  uint32_t dim = 16;
  uint64_t n = 3000, nq = 20;
};
Rows MakeRows(const TempDir& dir) {
  Rows r;
  SynthParams sp;
  sp.dim = r.dim;
  sp.clusters = 10;
  SyntheticGenerator gen(sp);
  r.base.resize(r.n * r.dim);
  r.queries.resize(r.nq * r.dim);
  gen.Generate(SyntheticGenerator::kBaseStream, 0, r.n, r.base.data());
  gen.Generate(SyntheticGenerator::kQueryStream, 0, r.nq, r.queries.data());
  EXPECT_TRUE(WriteMatrix(dir / "base.fbin", DType::kF32, r.dim, r.base.data(), r.n).ok());
  return r;
}

BuildOptions Options(IndexType type) {
  BuildOptions o;
  o.type = type;
  o.quant = "sq8";
  o.threads = 1;  // deterministic graphs: builds compared byte for byte
  return o;
}

std::vector<std::vector<SearchResult>> SearchRows(const std::string& dir, const Rows& r) {
  auto index = Index::Open(dir, IndexOptions{});
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  if (!index.ok()) return {};
  SearchParams p;
  p.probes = 4;
  return SearchAll(**index, FloatMatrix{r.nq, r.dim, r.queries}, p);
}

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// The exact top-10 rows of the queries.
IdMatrix IdMatrixOfExact(const TempDir& dir, const Rows& r) {
  auto reader = VectorReader::Open(dir / "base.fbin");
  ExactSearchParams ep;
  ep.k = 10;
  auto exact = ExactSearch(**reader, FloatMatrix{r.nq, r.dim, r.queries}, ep);
  EXPECT_TRUE(exact.ok());
  return IdMatrix{r.nq, 10, exact->ids};
}

class IndexLayerTest : public ::testing::TestWithParam<IndexType> {};

TEST_P(IndexLayerTest, SearchesReturnTheKeysGivenAtBuild) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  BuildOptions o = Options(GetParam());
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "rows", o).ok());
  for (uint64_t i = 0; i < r.n; ++i) o.keys.push_back(5'000'000'000 + 7 * static_cast<int64_t>(r.n - i));
  const Status s = BuildIndex(dir / "base.fbin", dir / "keyed", o);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const auto by_row = SearchRows(dir / "rows", r);
  const auto by_key = SearchRows(dir / "keyed", r);
  ASSERT_EQ(by_row.size(), by_key.size());
  for (size_t q = 0; q < by_row.size(); ++q) {
    ASSERT_EQ(by_row[q].size(), 10u);
    ASSERT_EQ(by_row[q].size(), by_key[q].size());
    for (size_t j = 0; j < by_row[q].size(); ++j) {
      EXPECT_EQ(by_key[q][j].key, o.keys[by_row[q][j].key]) << "query " << q << " rank " << j;
      EXPECT_EQ(by_key[q][j].distance, by_row[q][j].distance);
    }
  }
  // A rebuild of the directory keeps the keys it is given.
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "keyed", o).ok());
  const auto rebuilt = SearchRows(dir / "keyed", r);
  ExpectSame(by_key, rebuilt);
}

TEST_P(IndexLayerTest, ARepeatedKeyIsRefusedNamingTheRowsBeforeAnythingIsWritten) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  BuildOptions o = Options(GetParam());
  for (uint64_t i = 0; i < r.n; ++i) o.keys.push_back(static_cast<int64_t>(i) * 10);
  o.keys[1700] = o.keys[42];
  Status s = BuildIndex(dir / "base.fbin", dir / "idx", o);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("row 1700 repeats key 420 of row 42"), std::string::npos) << s.ToString();
  EXPECT_TRUE(Entries(dir / "idx").empty());
  o.keys.pop_back();
  s = BuildIndex(dir / "base.fbin", dir / "idx", o);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("2999 keys for 3000 vectors"), std::string::npos) << s.ToString();
}

TEST_P(IndexLayerTest, AMemorySourceBuildsTheSameFilesAsAFileOfTheSameRows) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  const BuildOptions o = Options(GetParam());
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "from_file", o).ok());
  auto source = VectorSource::FromMemory(r.base.data(), r.n, r.dim);
  ASSERT_TRUE(source.ok());
  const Status s = BuildIndex(**source, dir / "from_memory", o);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto a = ReadManifest(DefaultEnv(), dir / "from_file");
  auto b = ReadManifest(DefaultEnv(), dir / "from_memory");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->files.size(), b->files.size());
  // Each generation binds its pages with its own nonce: the paged files are
  // the same but for their page headers' binding and checksum.
  EXPECT_NE(a->page_nonce, b->page_nonce);
  const size_t page_size = std::stoul(a->params.at("page_size"));
  for (size_t i = 0; i < a->files.size(); ++i) {
    const std::string& name = a->files[i].name;
    std::string x = ReadFileBytes(a->FilePath(dir / "from_file", name));
    std::string y = ReadFileBytes(b->FilePath(dir / "from_memory", b->files[i].name));
    ASSERT_EQ(x.size(), y.size()) << name;
    if (name == "vectors" || name == "graph" || name == "lists") {
      for (size_t p = 0; p < x.size(); p += page_size) {
        for (std::string* bytes : {&x, &y}) {
          bytes->replace(p + offsetof(PageHeader, checksum), 8, 8, '\0');
          bytes->replace(p + offsetof(PageHeader, binding), 8, 8, '\0');
        }
      }
    } else {
      EXPECT_EQ(a->files[i], b->files[i]) << name;
    }
    EXPECT_EQ(x, y) << name;
  }
  EXPECT_EQ(b->params.at("source"), "memory");
  ExpectSame(SearchRows(dir / "from_file", r), SearchRows(dir / "from_memory", r));
}

TEST_P(IndexLayerTest, AMemorySourceRefusesNaNNamingTheRow) {
  TempDir dir;
  Rows r = MakeRows(dir);
  r.base[2500 * r.dim + 3] = std::nanf("");
  auto source = VectorSource::FromMemory(r.base.data(), r.n, r.dim);
  ASSERT_TRUE(source.ok());
  const Status s = BuildIndex(**source, dir / "idx", Options(GetParam()));
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("row 2500 component 3 is NaN"), std::string::npos) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(dir / "idx/MANIFEST"));
}

// Rows of every element type in memory read as the floats they hold; a
// NaN in f16 is refused like one in f32.
TEST(VectorSourceTest, MemoryRowsOfEveryElementTypeReadAsFloats) {
  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3800, 0x0000, 0x7bff, 0x3555};  // 1 -2 0.5 0 65504 ~1/3
  const std::vector<uint8_t> u8 = {0, 1, 127, 128, 200, 255};
  const std::vector<int8_t> i8 = {-128, -1, 0, 1, 100, 127};
  const std::vector<float> want_f16 = {1, -2, 0.5f, 0, 65504, 0.33325195f};
  for (const auto& [rows, type, want] :
       {std::tuple<const void*, ElementType, std::vector<float>>{f16.data(), ElementType::kF16, want_f16},
        {u8.data(), ElementType::kU8, {0, 1, 127, 128, 200, 255}},
        {i8.data(), ElementType::kI8, {-128, -1, 0, 1, 100, 127}}}) {
    SCOPED_TRACE(ElementTypeName(type));
    auto source = VectorSource::FromMemory(rows, type, 3, 2);
    ASSERT_TRUE(source.ok());
    std::vector<float> got(6, -7);
    auto n = (*source)->Read(2, got.data());
    ASSERT_TRUE(n.ok() && *n == 2);
    n = (*source)->Read(5, got.data() + 4);
    ASSERT_TRUE(n.ok() && *n == 1);
    EXPECT_EQ(got, want);
  }
  const std::vector<uint16_t> nan = {0x3c00, 0x3c00, 0x7e00, 0x3c00};
  auto source = VectorSource::FromMemory(nan.data(), ElementType::kF16, 2, 2);
  ASSERT_TRUE(source.ok());
  std::vector<float> out(4);
  auto n = (*source)->Read(2, out.data());
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("row 1 component 0 is NaN"), std::string::npos) << n.status().ToString();
}

// The progress callback sees every phase, training included; cancelling in
// each phase leaves the directory as it was: nothing on an empty one, the
// old generation whole, serving its results, beside an index.
TEST_P(IndexLayerTest, ACancelledBuildLeavesNothingAndTheOldIndexWhole) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  BuildOptions o = Options(GetParam());
  o.quant = "pq:4";
  std::vector<std::string> phases;
  o.progress = [&](uint64_t, uint64_t, const char* phase) {
    if (phases.empty() || phases.back() != phase) phases.emplace_back(phase);
  };
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "idx", o).ok());
  const std::vector<std::string> want =
      GetParam() == IndexType::kHnsw
          ? std::vector<std::string>{"read", "insert", "train codes", "encode", "write"}
          : std::vector<std::string>{"read", "k-means", "train codes", "assign", "write lists"};
  for (const std::string& p : want)
    EXPECT_NE(std::find(phases.begin(), phases.end(), p), phases.end()) << "no phase " << p;
  const auto before = SearchRows(dir / "idx", r);
  const std::set<std::string> files_before = Entries(dir / "idx");

  for (const std::string& stop_in : want) {
    SCOPED_TRACE(stop_in);
    std::atomic<bool> cancel{false};
    BuildOptions c = o;
    c.cancel = &cancel;
    c.progress = [&](uint64_t, uint64_t, const char* phase) {
      if (stop_in == phase) cancel = true;
    };
    Status s = BuildIndex(dir / "base.fbin", dir / "idx", c);
    ASSERT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
    EXPECT_EQ(Entries(dir / "idx"), files_before);
    ExpectSame(before, SearchRows(dir / "idx", r));
    cancel = false;
    s = BuildIndex(dir / "base.fbin", dir / "fresh", c);
    ASSERT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
    EXPECT_EQ(Entries(dir / "fresh"), std::set<std::string>{"LOCK"});
  }
}

// Admits rows whose number is a multiple of 3.
class EveryThirdRow : public RowCheck {
 public:
  bool Admit(uint32_t row) const override { return row % 3 == 0; }
};

TEST_P(IndexLayerTest, TheCandidateCheckAdmitsOnlyItsRowsAndStillReturnsK) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  BuildOptions o = Options(GetParam());
  o.reorder = false;  // HNSW node ids are then the rows the check sees
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "idx", o).ok());
  auto index = Index::Open(dir / "idx", IndexOptions{});
  ASSERT_TRUE(index.ok());
  const auto* base = dynamic_cast<const IndexBase*>(index->get());
  ASSERT_NE(base, nullptr);
  // Exact filtered ground truth: the 10 nearest admitted rows.
  std::vector<float> admitted;
  std::vector<uint32_t> rows;
  for (uint32_t i = 0; i < r.n; i += 3) {
    rows.push_back(i);
    admitted.insert(admitted.end(), r.base.begin() + i * r.dim, r.base.begin() + (i + 1) * r.dim);
  }
  ASSERT_TRUE(WriteMatrix(dir / "admitted.fbin", DType::kF32, r.dim, admitted.data(), rows.size()).ok());
  auto reader = VectorReader::Open(dir / "admitted.fbin");
  ExactSearchParams ep;
  ep.k = 10;
  auto exact = ExactSearch(**reader, FloatMatrix{r.nq, r.dim, r.queries}, ep);
  ASSERT_TRUE(exact.ok());
  EveryThirdRow check;
  SearchParams p;
  p.ef_search = 64;
  p.probes = 6;
  uint64_t hits = 0;
  for (uint64_t q = 0; q < r.nq; ++q) {
    std::vector<SearchResult> got;
    ASSERT_TRUE(base->SearchChecked(r.queries.data() + q * r.dim, p, &check, &got, nullptr).ok());
    ASSERT_EQ(got.size(), 10u) << "query " << q;
    for (const SearchResult& g : got) {
      EXPECT_EQ(g.key % 3, 0) << "query " << q << " returned row " << g.key;
      for (uint32_t j = 0; j < 10; ++j) hits += rows[exact->ids[q * 10 + j]] == g.key;
    }
  }
  EXPECT_GE(double(hits) / (r.nq * 10), 0.9);
}

// A query is prepared once (core/query.h): NaN or Inf is refused naming the
// component, and so is a zero query under cosine.
TEST_P(IndexLayerTest, AQueryWithNaNOrAZeroCosineQueryIsRefused) {
  TempDir dir;
  Rows r = MakeRows(dir);
  BuildOptions o = Options(GetParam());
  o.metric = Metric::kCosine;
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "idx", o).ok());
  auto index = Index::Open(dir / "idx", IndexOptions{});
  ASSERT_TRUE(index.ok());
  std::vector<float> q(r.queries.begin(), r.queries.begin() + r.dim);
  std::vector<SearchResult> out;
  ASSERT_TRUE((*index)->Search(q.data(), SearchParams{}, &out, nullptr).ok());
  EXPECT_EQ(out.size(), 10u);
  q[3] = std::nanf("");
  Status s = (*index)->Search(q.data(), SearchParams{}, &out, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("query component 3 is NaN"), std::string::npos) << s.ToString();
  q[3] = INFINITY;
  s = (*index)->Search(q.data(), SearchParams{}, &out, nullptr);
  EXPECT_NE(s.message().find("query component 3 is Inf"), std::string::npos) << s.ToString();
  std::fill(q.begin(), q.end(), 0.0f);
  s = (*index)->Search(q.data(), SearchParams{}, &out, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("zero query"), std::string::npos) << s.ToString();
}

// The pool shares each class out among max_searchers + 1 users: 8 threads
// searching at once over 9 frames a class all finish, with the serial
// results; a pool too small for its searchers is refused with the figure.
TEST_P(IndexLayerTest, ConcurrentSearchersOverATinyPoolAllFinish) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "idx", Options(GetParam())).ok());
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 9 * 4096;
  io.max_searchers = 8;
  auto index = Index::Open(dir / "idx", io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_GT((*index)->info().structure_bytes, io.structure_cache_bytes) << "the pool must be smaller than the file";
  const FloatMatrix q{r.nq, r.dim, r.queries};
  SearchParams p;
  p.probes = 8;
  p.ef_search = 64;
  p.beam = 8;
  const auto serial = SearchAll(**index, q, p);
  for (int round = 0; round < 5; ++round) ExpectSame(serial, SearchAllConcurrently(**index, q, p, 8));

  io.structure_cache_bytes = 8 * 4096;
  auto refused = Index::Open(dir / "idx", io);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("cannot give 8 searches at once and a prewarm a page each; give this "
                                            "class at least 36 KB"),
            std::string::npos)
      << refused.status().ToString();
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * 4096;
}

// A budget far above the index is cut to its files, and no memory is taken
// for it at open: the pool fills as pages are read.
TEST_P(IndexLayerTest, AHugeBudgetIsCutToTheFilesAndTakenOnDemand) {
  TempDir dir;
  const Rows r = MakeRows(dir);
  ASSERT_TRUE(BuildIndex(dir / "base.fbin", dir / "idx", Options(GetParam())).ok());
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = uint64_t{1} << 40;  // 1 TiB each
  const uint64_t before = ResidentBytes();
  auto index = Index::Open(dir / "idx", io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_LT(ResidentBytes(), before + (16u << 20)) << "the open took the budget's memory";
  const IndexInfo& info = (*index)->info();
  auto pages = (*index)->Prewarm();
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ(*pages, info.structure_bytes / info.page_size - 1) << "the structure class holds its whole file";
  SearchParams p;
  p.probes = 4;
  EXPECT_GE(Recall(SearchAll(**index, FloatMatrix{r.nq, r.dim, r.queries}, p), IdMatrixOfExact(dir, r), 10), 0.8);
}

INSTANTIATE_TEST_SUITE_P(BothTypes, IndexLayerTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return std::string(IndexTypeName(info.param)); });

TEST(Keys, ReadFromEveryKeyFormat) {
  TempDir dir;
  const std::vector<int64_t> keys = {9'000'000'000, -4, 17};
  ASSERT_TRUE(WriteMatrix(dir / "k.npy", DType::kI64, 1, keys.data(), 3).ok());
  const std::vector<int32_t> narrow = {5, -4, 17};
  ASSERT_TRUE(WriteMatrix(dir / "k.ibin", DType::kI32, 1, narrow.data(), 3).ok());
  ASSERT_TRUE(WriteMatrix(dir / "k.ivecs", DType::kI32, 1, narrow.data(), 3).ok());
  auto a = ReadKeys(dir / "k.npy");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, keys);
  for (const char* f : {"k.ibin", "k.ivecs"}) {
    auto b = ReadKeys(dir / f);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(*b, (std::vector<int64_t>{5, -4, 17}));
  }
  ASSERT_TRUE(WriteMatrix(dir / "wide.ivecs", DType::kI32, 3, narrow.data(), 1).ok());
  auto c = ReadKeys(dir / "wide.ivecs");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("one int64 (or int32) per row"), std::string::npos) << c.status().ToString();
}

}  // namespace
}  // namespace vx
