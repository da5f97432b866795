// Rebuilding an index in its own directory, for both index types: the new
// generation is written beside the old one, which stays whole and servable
// until the manifest commit replaces it; an index opened before keeps
// serving the old generation; a failed or crashed rebuild leaves the old
// index as it was.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "index_test_util.h"
#include "io/fault_env.h"

namespace vx {
namespace {

// Runs `hook` once, at the first open of a file whose path contains `part`.
class HookOnFirstOpen : public FaultEnv {
 public:
  HookOnFirstOpen(std::string part, std::function<void()> hook)
      : FaultEnv(DefaultEnv()), part_(std::move(part)), hook_(std::move(hook)) {}
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& opts) override {
    if (!fired_ && path.find(part_) != std::string::npos) {
      fired_ = true;
      hook_();
    }
    return FaultEnv::OpenFile(path, opts);
  }
  bool fired_ = false;

 private:
  std::string part_;
  std::function<void()> hook_;
};

class RebuildTest : public ::testing::TestWithParam<IndexType> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam());  // equal files, equal results
    old_ = BuildSyntheticIndex(o_);
    // The new base: the first 4000 of the old base's 6000 rows.
    auto reader = VectorReader::Open(old_->dir / "base.fbin");
    ASSERT_TRUE(reader.ok());
    std::vector<float> rows(4000 * 32);
    ASSERT_TRUE((*reader)->ReadFloat(4000, rows.data()).ok());
    new_base_ = old_->dir / "new.fbin";
    ASSERT_TRUE(WriteMatrix(new_base_, DType::kF32, 32, rows.data(), 4000).ok());
    p_.ef_search = 64;
    p_.probes = 3;
    old_results_ = Results(old_->index());
    // What the rebuild must serve: the new base built in a directory of its own.
    ASSERT_TRUE(BuildIndex(new_base_, old_->dir / "fresh", o_).ok());
    new_results_ = Results(old_->dir / "fresh");
  }

  std::vector<std::vector<SearchResult>> Results(const std::string& dir, Env* env = nullptr) {
    IndexOptions io;
    io.env = env;
    auto index = Index::Open(dir, io);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    if (!index.ok()) return {};
    return SearchAll(**index, old_->queries, p_);
  }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(old_->index())) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  // Bytes a build of the new base writes, measured by building it into a
  // directory of its own.
  uint64_t BytesTheRebuildWrites() {
    FaultEnv count(DefaultEnv());
    BuildOptions o = o_;
    o.env = &count;
    const Status s = BuildIndex(new_base_, old_->dir / "measure", o);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return count.BytesWritten();
  }

  BuildOptions o_;
  SearchParams p_;
  std::unique_ptr<Built> old_;
  std::string new_base_;
  std::vector<std::vector<SearchResult>> old_results_, new_results_;
};

// A service searching on 2 threads while the index is rebuilt under it, on
// a pool of 16 pages a class, so that its searches keep reading pages of the
// files the rebuild deletes: every search succeeds with the old results.
TEST_P(RebuildTest, ConcurrentSearchesOfAnOpenIndexServeTheOldGenerationThroughARebuild) {
  IndexOptions io;
  io.structure_cache_bytes = io.vector_cache_bytes = 16 * 4096;
  auto open = Index::Open(old_->index(), io);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  ASSERT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-1"}));

  std::atomic<bool> rebuilt{false};
  std::atomic<int> rounds_after{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 2; ++t) {
    searchers.emplace_back([&] {
      // Until the rebuild is done, then two more rounds.
      for (int after = 0; after < 2;) {
        const bool done = rebuilt.load();
        ExpectSame(old_results_, SearchAll(**open, old_->queries, p_));
        if (done) ++after;
      }
      ++rounds_after;
    });
  }
  const Status s = BuildIndex(new_base_, old_->index(), o_);
  rebuilt = true;
  for (auto& t : searchers) t.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rounds_after.load(), 2);
  EXPECT_EQ((*open)->info().count, 6000u) << "the open index is still the old one";

  EXPECT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-2"})) << "the old generation is deleted";
  auto reopened = Index::Open(old_->index(), IndexOptions{});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->info().count, 4000u);
  ExpectSame(new_results_, SearchAll(**reopened, old_->queries, p_));
}

// An index opened while a rebuild is writing (here: as it creates its
// quantizer file, after the graph or lists and the vectors) is the old
// one, with the old results.
TEST_P(RebuildTest, OpenDuringARebuildGetsTheOldGeneration) {
  HookOnFirstOpen env("/gen-2/quantizer", [&] { ExpectSame(old_results_, Results(old_->index())); });
  BuildOptions o = o_;
  o.env = &env;
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o).ok());
  EXPECT_TRUE(env.fired_);
  ExpectSame(new_results_, Results(old_->index()));
}

// ENOSPC part way through the rebuild: the error is returned, the old index
// serves as before, and the failed generation's files are gone.
TEST_P(RebuildTest, FailedRebuildLeavesTheOldIndex) {
  FaultEnv fault(DefaultEnv());
  fault.FailWritesAfter("/vectors", 100'000);
  BuildOptions o = o_;
  o.env = &fault;
  const Status s = BuildIndex(new_base_, old_->index(), o);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("gen-2/vectors"), std::string::npos) << s.ToString();
  EXPECT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-1"}));
  ExpectSame(old_results_, Results(old_->index()));
}

// A power cut at points spread over the rebuild's writes, then the crash
// (unsynced writes and names lost): the old index opens with its old
// results. A rebuild after the last crash succeeds, survives a crash right
// after its commit, and leaves only its own generation.
TEST_P(RebuildTest, PowerCutAnywhereInARebuildLeavesTheOldIndex) {
  const uint64_t total = BytesTheRebuildWrites();
  ASSERT_GT(total, 100'000u);
  // The last cut fails the manifest's write, the build's last: half way
  // through it, since its length varies by a few bytes between builds (the
  // checksums of files bound by a random page nonce).
  const uint64_t manifest_bytes = std::filesystem::file_size(old_->dir / "measure/MANIFEST");
  for (const uint64_t cut : {uint64_t{0}, total / 10, total / 2, total * 9 / 10, total - manifest_bytes / 2}) {
    FaultEnv fault(DefaultEnv());
    fault.CutPowerAfterWrites(cut);
    BuildOptions o = o_;
    o.env = &fault;
    const Status s = BuildIndex(new_base_, old_->index(), o);
    ASSERT_FALSE(s.ok()) << "cut after " << cut << " of " << total << " bytes";
    EXPECT_NE(s.message().find("power cut"), std::string::npos) << s.ToString();
    ASSERT_TRUE(fault.SimulateCrash().ok());
    SCOPED_TRACE("power cut after " + std::to_string(cut) + " of " + std::to_string(total) + " bytes");
    auto m = ReadManifest(DefaultEnv(), old_->index());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->generation, 1u);
    ExpectSame(old_results_, Results(old_->index()));
  }
  // Committed means durable: a crash right after the commit keeps it.
  FaultEnv fault(DefaultEnv());
  BuildOptions o = o_;
  o.env = &fault;
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o).ok());
  ASSERT_TRUE(fault.SimulateCrash().ok());
  const std::vector<std::string> entries = Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1], "MANIFEST");
  EXPECT_NE(entries[2], "gen-1") << "the crashed builds' generation directories are never reused";
  ExpectSame(new_results_, Results(old_->index()));
}

// The commit's last step, the directory fsync, fails after the rename made
// the new manifest visible: the build reports the error, and the generation
// the manifest names keeps its files (it opens with the new results).
TEST_P(RebuildTest, CommitFailingAfterItsRenameKeepsTheGenerationItNames) {
  class FailIndexDirSync : public FaultEnv {
   public:
    FailIndexDirSync(std::string dir) : FaultEnv(DefaultEnv()), dir_(std::move(dir)) {}
    Status SyncDir(const std::string& dir) override {
      if (dir == dir_) return Status::IOError(dir + ": fsync: injected EIO");
      return FaultEnv::SyncDir(dir);
    }

   private:
    std::string dir_;
  } env(old_->index());
  BuildOptions o = o_;
  o.env = &env;
  const Status s = BuildIndex(new_base_, old_->index(), o);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("injected EIO"), std::string::npos) << s.ToString();
  ExpectSame(new_results_, Results(old_->index()));
}

// A second build into a directory that a build is writing is refused with
// Busy, and leaves the index alone.
TEST_P(RebuildTest, SecondBuildIntoTheSameDirectoryIsBusy) {
  auto held = DefaultEnv()->LockFile(old_->index() + "/LOCK");  // as a running build holds it
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  const Status s = BuildIndex(new_base_, old_->index(), o_);
  EXPECT_EQ(s.code(), StatusCode::kBusy) << s.ToString();
  EXPECT_NE(s.message().find(old_->index() + ": a build or an IndexWriter holds this index directory"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-1"}));
  ExpectSame(old_results_, Results(old_->index()));
  held->reset();
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o_).ok());
  ExpectSame(new_results_, Results(old_->index()));
}

// An open that read the manifest just before a rebuild committed finds its
// generation's files deleted: it opens the new generation instead.
TEST_P(RebuildTest, OpenRacingACommitOpensTheNewGeneration) {
  HookOnFirstOpen env("/gen-1/", [&] {
    const Status s = BuildIndex(new_base_, old_->index(), o_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  const auto got = Results(old_->index(), &env);
  EXPECT_TRUE(env.fired_);
  ExpectSame(new_results_, got);
}

// A disk with less room than the build must write is refused before the
// build writes a byte (and so before its compute), naming the directory and
// both figures, and the old index stays. The bound is a lower one: a disk
// with exactly the room the build writes lets it through.
TEST_P(RebuildTest, TooLittleFreeSpaceIsRefusedBeforeTheBuildWrites) {
  const uint64_t total = BytesTheRebuildWrites();
  FaultEnv fault(DefaultEnv());
  fault.SetFreeSpace(total / 2);
  BuildOptions o = o_;
  o.env = &fault;
  const Status s = BuildIndex(new_base_, old_->index(), o);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  for (const std::string& part :
       std::vector<std::string>{old_->index() + ": the new index needs at least ", " are free (the current index stays",
                                "; free space or build into another directory"}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(fault.BytesWritten(), 0u);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-1"}));
  ExpectSame(old_results_, Results(old_->index()));

  fault.SetFreeSpace(total);
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o).ok());
  ExpectSame(new_results_, Results(old_->index()));
}

// A crashed build's generation directory (here gen-7, with a file in it) is
// deleted when the next build begins, before that build writes its own
// (gen-8), so that its space counts for the new build.
TEST_P(RebuildTest, ACrashedBuildsGenerationIsDeletedWhenTheNextBuildBegins) {
  const std::filesystem::path crashed = old_->index() + "/gen-7";
  std::filesystem::create_directory(crashed);
  std::ofstream(crashed / "vectors") << std::string(100'000, 'x');
  ASSERT_EQ(std::filesystem::file_size(crashed / "vectors"), 100'000u);
  bool gone = false;
  HookOnFirstOpen env("/gen-8/", [&] { gone = !std::filesystem::exists(crashed); });
  BuildOptions o = o_;
  o.env = &env;
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o).ok());
  EXPECT_TRUE(env.fired_) << "the new generation is gen-8, above the crashed one";
  EXPECT_TRUE(gone);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"LOCK", "MANIFEST", "gen-8"}));
  ExpectSame(new_results_, Results(old_->index()));
}

// A generation directory beside a manifest that cannot be read is kept:
// without the manifest vx cannot tell it is garbage.
TEST_P(RebuildTest, BesideADamagedManifestNoGenerationIsDeletedBeforeTheCommit) {
  const std::string manifest = old_->index() + "/MANIFEST";
  std::filesystem::resize_file(manifest, std::filesystem::file_size(manifest) - 1);
  bool kept = false;
  HookOnFirstOpen env("/gen-2/", [&] { kept = std::filesystem::exists(old_->index() + "/gen-1"); });
  BuildOptions o = o_;
  o.env = &env;
  ASSERT_TRUE(BuildIndex(new_base_, old_->index(), o).ok());
  EXPECT_TRUE(env.fired_);
  EXPECT_TRUE(kept);
  ExpectSame(new_results_, Results(old_->index()));
}

INSTANTIATE_TEST_SUITE_P(Types, RebuildTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return std::string(IndexTypeName(info.param)); });

}  // namespace
}  // namespace vx
