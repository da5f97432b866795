// The cells of docs/faults.md that no other test covers: read faults (EIO,
// short reads) reaching Search, Prewarm and Open of an open index as
// statuses naming the file; a manifest that passes its checksum but lies;
// and real SIGKILLs of `vxctl build` rebuilding an index.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "index_test_util.h"
#include "io/fault_env.h"

extern char** environ;

namespace vx {
namespace {

class FaultMatrixTest : public ::testing::TestWithParam<IndexType> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam());
    b_ = BuildSyntheticIndex(o_);
    p_.probes = 3;
  }
  const char* Structure() const { return GetParam() == IndexType::kIvf ? "/lists" : "/graph"; }
  BuildOptions o_;
  SearchParams p_;
  std::unique_ptr<Built> b_;
};

// EIO and short reads of an open index's pages are the caller's Status,
// naming the file, for a search and for a prewarm; a later search, the
// fault gone, succeeds (nothing cached the failure).
TEST_P(FaultMatrixTest, ReadFaultsOfAnOpenIndexReachTheCaller) {
  FaultEnv fault(DefaultEnv());
  IndexOptions io;
  io.env = &fault;
  auto index = Index::Open(b_->index(), io);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  std::vector<SearchResult> out;
  uint64_t next = 0;  // each search a query not searched before: its pages are not in the pool
  for (const char* file : {Structure(), "/vectors"}) {
    SCOPED_TRACE(file);
    fault.FailReads(file);
    Status s = (*index)->Search(b_->queries.row(next++), p_, &out, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
    EXPECT_NE(s.message().find(file), std::string::npos) << s.ToString();
    fault.ClearFaults();
    fault.ShortenReads(file, 100);
    s = (*index)->Search(b_->queries.row(next++), p_, &out, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find("short read"), std::string::npos) << s.ToString();
    fault.ClearFaults();
    ASSERT_TRUE((*index)->Search(b_->queries.row(next++), p_, &out, nullptr).ok());
    EXPECT_EQ(out.size(), 10u);
  }
  IndexOptions cold = io;
  auto fresh = Index::Open(b_->index(), cold);
  ASSERT_TRUE(fresh.ok());
  fault.FailReads(Structure());
  auto pages = (*fresh)->Prewarm();
  ASSERT_FALSE(pages.ok());
  EXPECT_EQ(pages.status().code(), StatusCode::kIOError) << pages.status().ToString();
  fault.ClearFaults();
  // An open whose reads fail: IOError naming the file, never a crash.
  fault.FailReads("/quantizer");
  auto failed = Index::Open(b_->index(), io);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("quantizer"), std::string::npos) << failed.status().ToString();
}

// Rewrites the manifest's parameters (and its checksum with them).
void RewriteManifestParam(const std::string& dir, const std::string& key, const std::string& value) {
  auto m = ReadManifest(DefaultEnv(), dir);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  m->params[key] = value;
  ASSERT_TRUE(WriteManifest(DefaultEnv(), dir, *m).ok());
}

// A manifest that passes its checksum but lies about what the files hold is
// Corruption saying which file disagrees, never wrong answers or a hang.
TEST_P(FaultMatrixTest, AManifestThatLiesIsCorruption) {
  const std::string dir = b_->index();
  const std::string saved = ReadFileBytes(dir + "/MANIFEST");
  struct Lie {
    const char* key;
    const char* value;
    const char* says;
  };
  const std::vector<Lie> lies = {{"metric", "ip", "quantizer: trained for metric l2; the manifest says ip"},
                                 {"storage", "f16", "vectors: its header says 6000 vectors of 32 dims"},
                                 {"quant", "sq8x", "holds sq8 codes; the manifest says sq8x"},
                                 {"count", "5999", "keys: 48000 bytes for 5999 rows"},
                                 {"max_level", "4294967295", "max_level' = 4294967295 is outside 0..15"},
                                 {"lists", "9", "centroids: wrong size"}};
  for (const Lie& lie : lies) {
    const std::string key = lie.key;
    if ((key == "max_level" && GetParam() != IndexType::kHnsw) || (key == "lists" && GetParam() != IndexType::kIvf)) {
      continue;  // a parameter of the other type
    }
    SCOPED_TRACE(lie.key);
    RewriteManifestParam(dir, lie.key, lie.value);
    auto index = Index::Open(dir, IndexOptions{});
    ASSERT_FALSE(index.ok());
    EXPECT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
    EXPECT_NE(index.status().message().find(lie.says), std::string::npos) << index.status().ToString();
    std::ofstream(dir + "/MANIFEST", std::ios::binary | std::ios::trunc) << saved;
  }
  ASSERT_TRUE(Index::Open(dir, IndexOptions{}).ok());
}

// Real crashes: `vxctl build` rebuilding the index is killed with SIGKILL at
// points through its run. After each kill the index opens and serves either
// the old generation's results or, if the kill came after the commit, the
// new one's; the next build deletes the killed build's generation.
TEST_P(FaultMatrixTest, SigkillDuringARebuildLeavesTheOldOrTheNewIndex) {
  const std::string dir = b_->index();
  const auto old_results = SearchAll(**Index::Open(dir, IndexOptions{}), b_->queries, p_);
  // The rebuild's base: the old rows in reverse order (a different index).
  auto reader = VectorReader::Open(b_->dir / "base.fbin");
  std::vector<float> rows(6000 * 32), reversed(6000 * 32);
  ASSERT_TRUE((*reader)->ReadFloat(6000, rows.data()).ok());
  for (int i = 0; i < 6000; ++i) std::copy_n(rows.begin() + (5999 - i) * 32, 32, reversed.begin() + i * 32);
  const std::string base = b_->dir / "reversed.fbin";
  ASSERT_TRUE(WriteMatrix(base, DType::kF32, 32, reversed.data(), 6000).ok());
  const std::string type = IndexTypeName(GetParam());
  std::vector<std::string> args = {VXCTL_PATH, "build", "--type",  type,  "--base",    base,
                                   "--out",    dir,     "--quant", "sq8", "--threads", "1"};
  if (GetParam() == IndexType::kIvf) args.insert(args.end(), {"--lists", "8"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int killed = 0, committed = 0;
  for (int delay_ms : {5, 20, 50, 100, 150, 200, 300, 450, 700, 1000}) {
    SCOPED_TRACE("kill after " + std::to_string(delay_ms) + " ms");
    pid_t pid;
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(posix_spawn(&pid, argv[0], &quiet, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&quiet);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    killed += WIFSIGNALED(status);
    // A build the kill missed finished: it ran, and ran to its end.
    if (!WIFSIGNALED(status)) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "vxctl build failed";
    }
    auto index = Index::Open(dir, IndexOptions{});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    const auto got = SearchAll(**index, b_->queries, p_);
    auto m = ReadManifest(DefaultEnv(), dir);
    ASSERT_TRUE(m.ok());
    if (m->params.at("source") != base) {
      ExpectSame(old_results, got);
      continue;
    }
    ++committed;  // the kill came after the commit: the new index serves
    for (size_t q = 0; q < got.size(); ++q) ASSERT_EQ(got[q].size(), 10u);
    // Back to the old index for the next trial (a build of the old base).
    ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", dir, o_).ok());
  }
  EXPECT_GT(killed, 0) << "no build was killed before it finished: the trials tested nothing";
  // A build after the kills succeeds and leaves only its own generation.
  ASSERT_TRUE(BuildIndex(base, dir, o_).ok());
  int generations = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    generations += e.path().filename().string().rfind("gen-", 0) == 0;
  EXPECT_EQ(generations, 1);
}

// Index::Verify and `vxctl verify` check every file whole and every page,
// and report each damaged page and file, not only the first.
TEST_P(FaultMatrixTest, VerifyReportsEveryDamagedPageAndFile) {
  const std::string dir = b_->index();
  auto good = Index::Verify(dir);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE(good->ok()) << good->problems.front();
  auto m = ReadManifest(DefaultEnv(), dir);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(good->files, m->files.size());
  auto index = Index::Open(dir, IndexOptions{});
  ASSERT_TRUE(index.ok());
  const IndexInfo& info = (*index)->info();
  EXPECT_EQ(good->pages, (info.structure_bytes + info.vector_bytes) / info.page_size);
  const std::string structure = Structure() + 1;  // without the slash
  testing::TempDir out;
  const std::string cli = std::string(VXCTL_PATH) + " verify " + dir + " > " + out / "log" + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cli.c_str())), 0);

  FlipByte(b_->file("vectors"), 5 * info.page_size + 100);
  FlipByte(b_->file(structure), 3 * info.page_size + 100);
  auto bad = Index::Verify(dir);
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  std::string all;
  for (const std::string& p : bad->problems) all += p + "\n";
  EXPECT_EQ(bad->problems.size(), 4u) << all;
  for (const std::string& want : std::vector<std::string>{
           "/vectors page 5: checksum mismatch", "/" + structure + " page 3: checksum mismatch",
           "/vectors: content checksum mismatch", "/" + structure + ": content checksum mismatch"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << " not in\n" << all;
  }
  EXPECT_EQ(WEXITSTATUS(std::system(cli.c_str())), 1);
  const std::string log = ReadFileBytes(out / "log");
  EXPECT_NE(log.find("vectors page 5: checksum mismatch"), std::string::npos) << log;
  EXPECT_NE(log.find("4 problems"), std::string::npos) << log;
}

// Pages copied from another index of the same shape (the same rows built
// again) at the same offsets have the right number, type and checksum; the
// binding drawn per generation makes them Corruption, for a search and for
// verify, never answers from the other index.
TEST_P(FaultMatrixTest, PagesOfAnotherIndexAreCorruption) {
  const std::string dir = b_->index(), other = b_->dir / "other";
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", other, o_).ok());
  auto om = ReadManifest(DefaultEnv(), other);
  ASSERT_TRUE(om.ok());
  auto index = Index::Open(dir, IndexOptions{});
  ASSERT_TRUE(index.ok());
  const size_t ps = (*index)->info().page_size;
  const std::string structure = Structure() + 1;  // without the slash
  for (const std::string& name : {std::string("vectors"), structure}) {
    SCOPED_TRACE(name);
    const std::string theirs = ReadFileBytes(om->FilePath(other, name));
    const std::string saved = ReadFileBytes(b_->file(name));
    std::string ours = saved;
    ASSERT_EQ(theirs.size(), ours.size());
    // Past the head that open checks whole (64 KiB): what a search reads.
    const size_t from = std::max<size_t>(ps, 64 << 10);
    ASSERT_GT(ours.size(), from + ps);
    ours.replace(from, ours.size() - from, theirs, from, ours.size() - from);
    std::ofstream(b_->file(name), std::ios::binary | std::ios::trunc) << ours;
    auto fresh = Index::Open(dir, IndexOptions{});
    ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    std::vector<SearchResult> out;
    const Status s = (*fresh)->Search(b_->queries.row(0), p_, &out, nullptr);
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find("/" + name + " page "), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("belongs to another file or index"), std::string::npos) << s.ToString();
    auto report = Index::Verify(dir);
    ASSERT_TRUE(report.ok());
    size_t foreign = 0, whole = 0;
    for (const std::string& p : report->problems) {
      foreign += p.find("belongs to another file or index") != std::string::npos;
      whole += p.find("/" + name + ": content checksum mismatch") != std::string::npos;
    }
    EXPECT_EQ(foreign, (ours.size() - from) / ps);
    EXPECT_EQ(whole, 1u);
    EXPECT_EQ(report->problems.size(), foreign + whole);
    std::ofstream(b_->file(name), std::ios::binary | std::ios::trunc) << saved;
  }
  ASSERT_TRUE(Index::Verify(dir)->ok());
}

INSTANTIATE_TEST_SUITE_P(BothTypes, FaultMatrixTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return std::string(IndexTypeName(info.param)); });

}  // namespace
}  // namespace vx
