// Snapshot and Restore, for both index types: a round trip serves the same
// results; a snapshot taken while searches run and while a rebuild commits
// holds the generation it started on; corrupt and truncated archives are
// refused naming the offset and leave the target as it was; I/O faults
// (EIO while reading, ENOSPC while restoring) leave no archive and no half
// index; a damaged index gives no archive.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "index_test_util.h"
#include "io/fault_env.h"

namespace vx {
namespace {

class SnapshotTest : public ::testing::TestWithParam<IndexType> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam());
    b_ = BuildSyntheticIndex(o_);
    p_.ef_search = 64;
    p_.probes = 3;
  }
  std::vector<std::vector<SearchResult>> Results(const std::string& dir) {
    auto index = Index::Open(dir, IndexOptions{});
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    if (!index.ok()) return {};
    return SearchAll(**index, b_->queries, p_);
  }
  // A second, different index in `dir`: the first 3000 rows.
  void BuildOther(const std::string& dir) {
    auto reader = VectorReader::Open(b_->dir / "base.fbin");
    ASSERT_TRUE(reader.ok());
    std::vector<float> rows(3000 * 32);
    ASSERT_TRUE((*reader)->ReadFloat(3000, rows.data()).ok());
    auto source = VectorSource::FromMemory(rows.data(), 3000, 32);
    ASSERT_TRUE(source.ok());
    ASSERT_TRUE(BuildIndex(**source, dir, o_).ok());
  }
  std::string Archive() const { return b_->dir / "snap.vxs"; }
  void Take() {
    auto info = Snapshot(b_->index(), Archive());
    ASSERT_TRUE(info.ok()) << info.status().ToString();
  }

  BuildOptions o_;
  std::unique_ptr<Built> b_;
  SearchParams p_;
};

TEST_P(SnapshotTest, RoundTripServesTheSameResultsBesideAndOverAnIndex) {
  const auto want = Results(b_->index());
  auto info = Snapshot(b_->index(), Archive());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->generation, 1u);
  EXPECT_GE(info->files, 3u);
  EXPECT_GT(info->bytes, 6000u * 32 * 4);
  EXPECT_EQ(info->archive_bytes, std::filesystem::file_size(Archive()));
  EXPECT_FALSE(std::filesystem::exists(Archive() + ".tmp"));

  // Beside: into a new directory.
  auto restored = Restore(Archive(), b_->dir / "copy");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->bytes, info->bytes);
  ExpectSame(Results(b_->dir / "copy"), want);
  auto verify = Index::Verify(b_->dir / "copy");
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->problems[0];

  // Over: a different index is replaced whole, its generation removed.
  BuildOther(b_->dir / "other");
  ASSERT_NE(Results(b_->dir / "other").size(), 0u);
  restored = Restore(Archive(), b_->dir / "other");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->generation, 2u);
  ExpectSame(Results(b_->dir / "other"), want);
  EXPECT_FALSE(std::filesystem::exists(b_->dir / "other/gen-1"));
  EXPECT_EQ(Index::Open(b_->dir / "other", IndexOptions{}).value()->info().count, 6000u);
}

// Searches run on other threads throughout; a rebuild commits (deleting
// the generation being read) half way through the snapshot. The archive
// holds the generation the snapshot started on.
TEST_P(SnapshotTest, ConcurrentSearchesAndARebuildDuringTheSnapshot) {
  const auto want = Results(b_->index());
  auto index = Index::Open(b_->index(), IndexOptions{});
  ASSERT_TRUE(index.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 2; ++t) {
    searchers.emplace_back([&] {
      while (!stop) {
        const auto got = SearchAll(**index, b_->queries, p_);
        for (size_t i = 0; i < got.size(); ++i) {
          for (size_t j = 0; j < got[i].size(); ++j) failures += got[i][j].key != want[i][j].key;
        }
      }
    });
  }
  BuildOptions rebuild = o_;
  SnapshotOptions so;
  so.level = 1;
  bool rebuilt = false;
  // The frames are 1 MiB: the vectors file (768 KB) is one frame, so the
  // first progress call comes after a file or two, with more to read.
  so.progress = [&](uint64_t done, uint64_t total, const char*) {
    if (rebuilt || done == total) return;
    rebuilt = true;
    auto reader = VectorReader::Open(b_->dir / "base.fbin");
    std::vector<float> rows(2000 * 32);
    ASSERT_TRUE((*reader)->ReadFloat(2000, rows.data()).ok());
    auto source = VectorSource::FromMemory(rows.data(), 2000, 32);
    ASSERT_TRUE(BuildIndex(**source, b_->index(), rebuild).ok());
    EXPECT_FALSE(std::filesystem::exists(b_->index() + "/gen-1"));
  };
  auto info = Snapshot(b_->index(), Archive(), so);
  stop = true;
  for (auto& t : searchers) t.join();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(rebuilt);
  EXPECT_EQ(info->generation, 1u);
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(Restore(Archive(), b_->dir / "copy").ok());
  ExpectSame(Results(b_->dir / "copy"), want);
  EXPECT_EQ(Index::Open(b_->index(), IndexOptions{}).value()->info().count, 2000u);  // the rebuild stands
}

// A flipped byte anywhere (header, manifest, a frame's header or payload,
// the trailer) and every truncation are refused, naming the offset; an
// index already in the target directory serves as before.
TEST_P(SnapshotTest, CorruptOrTruncatedArchivesLeaveTheTargetWhole) {
  Take();
  const auto want = Results(b_->index());
  BuildOther(b_->dir / "target");
  const auto target_before = Results(b_->dir / "target");
  const std::string good = ReadFileBytes(Archive());
  const uint64_t n = good.size();
  const std::string bad = b_->dir / "bad.vxs";
  auto write = [&](const std::string& bytes) { std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes; };
  // magic, manifest length, manifest body, first frame header, a payload
  // byte, the last frame, the trailer's magic and length.
  for (uint64_t at : {uint64_t{2}, uint64_t{9}, uint64_t{40}, uint64_t{300}, n / 2, n - 40, n - 12, n - 3}) {
    SCOPED_TRACE(at);
    std::string bytes = good;
    bytes[at] ^= 0x10;
    write(bytes);
    auto r = Restore(bad, b_->dir / "target");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find("offset"), std::string::npos) << r.status().ToString();
    ExpectSame(Results(b_->dir / "target"), target_before);
  }
  for (uint64_t len : {uint64_t{0}, uint64_t{5}, uint64_t{30}, n / 3, n - 17, n - 1}) {
    SCOPED_TRACE(len);
    write(good.substr(0, len));
    auto r = Restore(bad, b_->dir / "target");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find("truncated at offset " + std::to_string(len)), std::string::npos)
        << r.status().ToString();
  }
  write(good + "x");
  EXPECT_EQ(Restore(bad, b_->dir / "target").status().code(), StatusCode::kCorruption);
  ExpectSame(Results(b_->dir / "target"), target_before);
  // Nothing of the failed restores is left: one generation directory.
  size_t generations = 0;
  for (const auto& e : std::filesystem::directory_iterator(b_->dir / "target"))
    generations += e.path().filename().string().rfind("gen-", 0) == 0;
  EXPECT_EQ(generations, 1u);
  write(good);
  ASSERT_TRUE(Restore(bad, b_->dir / "target").ok());
  ExpectSame(Results(b_->dir / "target"), want);
}

TEST_P(SnapshotTest, IoFaultsLeaveNoArchiveAndNoHalfIndex) {
  FaultEnv env(DefaultEnv());
  SnapshotOptions so;
  so.env = &env;
  env.FailReads("/vectors", 0);
  auto info = Snapshot(b_->index(), Archive(), so);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kIOError) << info.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(Archive()));
  EXPECT_FALSE(std::filesystem::exists(Archive() + ".tmp"));
  env.ClearFaults();
  env.FailWritesAfter("snap.vxs", 1000);
  info = Snapshot(b_->index(), Archive(), so);
  EXPECT_EQ(info.status().code(), StatusCode::kNoSpace) << info.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(Archive()));
  EXPECT_FALSE(std::filesystem::exists(Archive() + ".tmp"));
  env.ClearFaults();
  ASSERT_TRUE(Snapshot(b_->index(), Archive(), so).ok());

  BuildOther(b_->dir / "target");
  const auto before = Results(b_->dir / "target");
  env.FailWritesAfter("/target/gen-", 200000);
  auto r = Restore(Archive(), b_->dir / "target", so);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace) << r.status().ToString();
  ExpectSame(Results(b_->dir / "target"), before);
  EXPECT_FALSE(std::filesystem::exists(b_->dir / "target/gen-2"));
  env.ClearFaults();
  std::atomic<bool> cancel{true};
  so.cancel = &cancel;
  EXPECT_EQ(Restore(Archive(), b_->dir / "target", so).status().code(), StatusCode::kCancelled);
  ExpectSame(Results(b_->dir / "target"), before);
}

TEST_P(SnapshotTest, ADamagedIndexGivesNoArchive) {
  FlipByte(b_->file("vectors"), 70000);
  auto info = Snapshot(b_->index(), Archive());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kCorruption);
  EXPECT_NE(info.status().message().find("vectors: whole-file checksum mismatch"), std::string::npos)
      << info.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(Archive()));
}

INSTANTIATE_TEST_SUITE_P(Types, SnapshotTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return std::string(IndexTypeName(info.param)); });

}  // namespace
}  // namespace vx
