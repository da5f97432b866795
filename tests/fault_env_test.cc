// FaultEnv itself: each fault does what it says, so the tests built on it
// (pool, manifest) test what they claim.
#include "io/fault_env.h"

#include <gtest/gtest.h>

#include "io_test_util.h"

namespace vx {
namespace {

using testing::EnvTest;

class FaultEnvTest : public EnvTest {
 protected:
  void SetUp() override {
    EnvTest::SetUp();
    if (env_) fault_ = std::make_unique<FaultEnv>(env_.get());
  }
  std::string ReadAll(const std::string& name) {
    auto f = env_->OpenFile(Path(name), OpenOptions{});
    if (!f.ok()) return "<" + f.status().ToString() + ">";
    std::string s(*(*f)->Size(), '\0');
    size_t got;
    EXPECT_TRUE((*f)->Read(0, s.size(), s.data(), &got).ok());
    return s;
  }
  void Put(const std::string& name, const std::string& content, bool sync) {
    auto f = fault_->OpenFile(Path(name), OpenOptions{.write = true, .create = true, .truncate = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, content.data(), content.size()).ok());
    if (sync) {
      ASSERT_TRUE((*f)->Sync().ok());
    }
  }
  std::unique_ptr<FaultEnv> fault_;
};

TEST_P(FaultEnvTest, FailReadsAfterGoodReadsAndCountsThem) {
  Put("data", "hello world", true);
  fault_->FailReads("data", 2);
  auto f = fault_->OpenFile(Path("data"), OpenOptions{});
  char buf[16];
  size_t got;
  EXPECT_TRUE((*f)->Read(0, 5, buf, &got).ok());
  EXPECT_TRUE((*f)->Read(0, 5, buf, &got).ok());
  const Status s = (*f)->Read(0, 5, buf, &got);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("data"), std::string::npos) << s.message();
  EXPECT_EQ(fault_->ReadCount("data"), 3u);
  fault_->ClearFaults();
  EXPECT_TRUE((*f)->Read(0, 5, buf, &got).ok());
}

TEST_P(FaultEnvTest, ShortReadsAndBatchStatuses) {
  Put("data", std::string(8192, 'x'), true);
  fault_->ShortenReads("data", 100);
  auto f = fault_->OpenFile(Path("data"), OpenOptions{});
  std::vector<char> buf(8192);
  std::vector<ReadRequest> reqs = {{0, 4096, buf.data(), 0, Status::Ok()},
                                   {4096, 4096, buf.data() + 4096, 0, Status::Ok()}};
  (*f)->ReadBatch(reqs);
  EXPECT_TRUE(reqs[0].status.ok());
  EXPECT_EQ(reqs[0].bytes_read, 100u);
  EXPECT_EQ(reqs[1].bytes_read, 100u);
}

TEST_P(FaultEnvTest, EnospcAfterBudget) {
  fault_->FailWritesAfter("log", 10);
  auto f = fault_->OpenFile(Path("log"), OpenOptions{.write = true, .create = true});
  EXPECT_TRUE((*f)->Write(0, "12345678", 8).ok());
  const Status s = (*f)->Write(8, "12345678", 8);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_NE(s.message().find("log"), std::string::npos);
}

TEST_P(FaultEnvTest, SetFreeSpaceOverridesTheBaseUntilCleared) {
  auto base = env_->FreeSpace(dir_.path());
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  fault_->SetFreeSpace(12345);
  auto set = fault_->FreeSpace(dir_.path());
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(*set, 12345u);
  fault_->ClearFaults();
  auto cleared = fault_->FreeSpace(dir_.path());
  ASSERT_TRUE(cleared.ok());
  EXPECT_NE(*cleared, 12345u);
  if (GetParam() == testing::Backend::kMemory) {
    EXPECT_EQ(*cleared, *base);
  }
}

TEST_P(FaultEnvTest, TornWriteKeepsOnlyAPrefix) {
  Put("page", std::string(16, 'a'), true);
  fault_->TearNextWrite("page", 4);
  auto f = fault_->OpenFile(Path("page"), OpenOptions{.write = true});
  EXPECT_EQ((*f)->Write(0, "BBBBBBBBBBBBBBBB", 16).code(), StatusCode::kIOError);
  EXPECT_EQ(ReadAll("page"), "BBBBaaaaaaaaaaaa");
  EXPECT_TRUE((*f)->Write(0, "CC", 2).ok());  // only the next write tears
}

TEST_P(FaultEnvTest, CrashDropsUnsyncedDataAndUndurableNames) {
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  Put("synced", "durable", true);
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  {
    auto f = fault_->OpenFile(Path("synced"), OpenOptions{.write = true});
    ASSERT_TRUE((*f)->Write(0, "CHANGED", 7).ok());  // never synced
  }
  Put("unsynced-new", "gone", true);  // synced data, but the directory never was
  Put("old", "old content", true);
  Put("new", "new content", true);
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  ASSERT_TRUE(fault_->RenameFile(Path("new"), Path("old")).ok());  // not made durable
  Put("late", "late", true);
  EXPECT_EQ(ReadAll("old"), "new content");

  ASSERT_TRUE(fault_->SimulateCrash().ok());
  EXPECT_EQ(ReadAll("synced"), "durable");
  EXPECT_FALSE(env_->FileExists(Path("late")));
  EXPECT_EQ(ReadAll("old"), "old content");
  EXPECT_EQ(ReadAll("new"), "new content");
}

TEST_P(FaultEnvTest, CrashRestoresAFileWrittenBeforeThisEnvSawIt) {
  {
    auto f = env_->OpenFile(Path("before"), OpenOptions{.write = true, .create = true});
    ASSERT_TRUE((*f)->Write(0, "on disk", 7).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  auto f = fault_->OpenFile(Path("before"), OpenOptions{.write = true});
  ASSERT_TRUE((*f)->Write(7, " and more", 9).ok());  // never synced
  ASSERT_TRUE((*f)->Truncate(3).ok());
  ASSERT_TRUE(fault_->SimulateCrash().ok());
  EXPECT_EQ(ReadAll("before"), "on disk");
}

TEST_P(FaultEnvTest, SyncedRenameSurvivesCrash) {
  Put("a", "A", true);
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  ASSERT_TRUE(fault_->RenameFile(Path("a"), Path("b")).ok());
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  ASSERT_TRUE(fault_->SimulateCrash().ok());
  EXPECT_FALSE(env_->FileExists(Path("a")));
  EXPECT_EQ(ReadAll("b"), "A");
}

TEST_P(FaultEnvTest, PowerCutStopsEveryWriteUntilTheCrash) {
  Put("a", "0123456789", true);
  ASSERT_TRUE(fault_->SyncDir(dir_.path()).ok());
  EXPECT_EQ(fault_->BytesWritten(), 10u);
  fault_->CutPowerAfterWrites(15);
  auto f = fault_->OpenFile(Path("a"), OpenOptions{.write = true});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, "abcde", 5).ok());  // 15 bytes: still powered
  const Status cut = (*f)->Write(5, "f", 1);
  EXPECT_EQ(cut.code(), StatusCode::kIOError);
  EXPECT_NE(cut.message().find("power cut"), std::string::npos) << cut.ToString();
  EXPECT_EQ(ReadAll("a"), "abcde56789") << "the failed write reached the file";
  // Nothing reaches the disk any more, and nothing is made durable.
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_FALSE(fault_->OpenFile(Path("b"), OpenOptions{.create = true}).ok());
  EXPECT_FALSE(fault_->RenameFile(Path("a"), Path("c")).ok());
  EXPECT_FALSE(fault_->DeleteFile(Path("a")).ok());
  EXPECT_FALSE(fault_->CreateDir(Path("d")).ok());
  EXPECT_FALSE(fault_->SyncDir(dir_.path()).ok());
  EXPECT_TRUE(fault_->OpenFile(Path("a"), OpenOptions{}).ok()) << "reads still work";

  ASSERT_TRUE(fault_->SimulateCrash().ok());
  EXPECT_EQ(ReadAll("a"), "0123456789");
  Put("b", "after", true);  // power is back
  EXPECT_EQ(ReadAll("b"), "after");
}

VX_INSTANTIATE_ENV_TEST(FaultEnvTest);

}  // namespace
}  // namespace vx
