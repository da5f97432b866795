// The Env contract, run against every backend (pread, io_uring, memory).
#include "io/env.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/uring.h"
#include "io_test_util.h"

namespace vx {
namespace {

using testing::Backend;
using testing::EnvTest;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + seed + (i >> 12));
  return v;
}

TEST_P(EnvTest, WriteReadRoundTripAndShortReadAtEof) {
  auto f = env_->OpenFile(Path("a"), OpenOptions{.write = true, .create = true});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto data = Pattern(10000, 3);
  ASSERT_TRUE((*f)->Write(0, data.data(), data.size()).ok());
  EXPECT_EQ(*(*f)->Size(), 10000u);
  std::vector<uint8_t> back(10000);
  size_t got = 0;
  ASSERT_TRUE((*f)->Read(0, 10000, back.data(), &got).ok());
  EXPECT_EQ(got, 10000u);
  EXPECT_EQ(back, data);
  // Past the end: OK with fewer bytes; at the end: zero bytes.
  ASSERT_TRUE((*f)->Read(9000, 4096, back.data(), &got).ok());
  EXPECT_EQ(got, 1000u);
  EXPECT_EQ(std::memcmp(back.data(), data.data() + 9000, 1000), 0);
  ASSERT_TRUE((*f)->Read(10000, 10, back.data(), &got).ok());
  EXPECT_EQ(got, 0u);
}

TEST_P(EnvTest, ReadBatchLargerThanTheRingGivesEachRequestItsResult) {
  constexpr size_t kPage = 4096, kPages = 300;  // more than one io_uring wave
  auto f = env_->OpenFile(Path("b"), OpenOptions{.write = true, .create = true});
  ASSERT_TRUE(f.ok());
  const auto data = Pattern(kPage * kPages, 9);
  ASSERT_TRUE((*f)->Write(0, data.data(), data.size()).ok());
  ASSERT_TRUE((*f)->Sync().ok());
  auto rf = env_->OpenFile(Path("b"), OpenOptions{.direct = true});
  ASSERT_TRUE(rf.ok()) << rf.status().ToString();
  AlignedBuffer buf(kPage * (kPages + 1));
  std::vector<ReadRequest> reqs;
  for (size_t i = 0; i < kPages; ++i) {
    const size_t page = (i * 7) % kPages;  // scattered order
    reqs.push_back(ReadRequest{page * kPage, kPage, buf.data() + i * kPage, 0, Status::Ok()});
  }
  reqs.push_back(ReadRequest{kPages * kPage, kPage, buf.data() + kPages * kPage, 0, Status::Ok()});  // at EOF
  (*rf)->ReadBatch(reqs);
  for (size_t i = 0; i < kPages; ++i) {
    ASSERT_TRUE(reqs[i].status.ok()) << reqs[i].status.ToString();
    ASSERT_EQ(reqs[i].bytes_read, kPage);
    ASSERT_EQ(std::memcmp(buf.data() + i * kPage, data.data() + reqs[i].offset, kPage), 0) << "request " << i;
  }
  EXPECT_TRUE(reqs.back().status.ok());
  EXPECT_EQ(reqs.back().bytes_read, 0u);
}

TEST_P(EnvTest, MissingFileIsNotFoundNamingIt) {
  auto f = env_->OpenFile(Path("missing"), OpenOptions{});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("missing"), std::string::npos);
}

TEST_P(EnvTest, AllocateTruncateRenameDeleteList) {
  {
    auto f = env_->OpenFile(Path("c"), OpenOptions{.write = true, .create = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Allocate(1 << 16).ok());
    EXPECT_GE(*(*f)->Size(), uint64_t{1} << 16);
    ASSERT_TRUE((*f)->Truncate(100).ok());
    EXPECT_EQ(*(*f)->Size(), 100u);
    ASSERT_TRUE((*f)->Sync().ok());
  }
  ASSERT_TRUE(env_->RenameFile(Path("c"), Path("d")).ok());
  ASSERT_TRUE(env_->SyncDir(dir_.path()).ok());
  EXPECT_FALSE(env_->FileExists(Path("c")));
  EXPECT_TRUE(env_->FileExists(Path("d")));
  auto names = env_->ListDir(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"d"});
  ASSERT_TRUE(env_->DeleteFile(Path("d")).ok());
  EXPECT_FALSE(env_->FileExists(Path("d")));
  EXPECT_EQ(env_->DeleteFile(Path("d")).code(), StatusCode::kNotFound);

  // A subdirectory is listed by its name and deleted once empty.
  ASSERT_TRUE(env_->CreateDir(Path("sub")).ok());
  ASSERT_TRUE(env_->OpenFile(Path("sub") + "/x", OpenOptions{.create = true}).ok());
  ASSERT_TRUE(env_->OpenFile(Path("sub") + "/y", OpenOptions{.create = true}).ok());
  names = env_->ListDir(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"sub"});
  EXPECT_FALSE(env_->DeleteDir(Path("sub")).ok()) << "not empty";
  ASSERT_TRUE(env_->DeleteFile(Path("sub") + "/x").ok());
  ASSERT_TRUE(env_->DeleteFile(Path("sub") + "/y").ok());
  ASSERT_TRUE(env_->DeleteDir(Path("sub")).ok());
  names = env_->ListDir(dir_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

TEST_P(EnvTest, LockFileIsExclusiveUntilReleased) {
  auto first = env_->LockFile(Path("LOCK"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(env_->FileExists(Path("LOCK")));
  auto second = env_->LockFile(Path("LOCK"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  EXPECT_NE(second.status().message().find(Path("LOCK")), std::string::npos) << second.status().ToString();
  auto other = env_->LockFile(Path("OTHER"));
  EXPECT_TRUE(other.ok()) << "another path is another lock";
  first->reset();
  auto third = env_->LockFile(Path("LOCK"));
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

// FreeSpace agrees with what the standard library reads of the same file
// system (other writers may move it a little in between); memory has no
// limit. A missing directory is NotFound, named.
TEST_P(EnvTest, FreeSpaceIsTheFileSystemsAvailableBytes) {
  auto free = env_->FreeSpace(dir_.path());
  ASSERT_TRUE(free.ok()) << free.status().ToString();
  if (GetParam() == Backend::kMemory) {
    EXPECT_EQ(*free, UINT64_MAX);
    return;
  }
  const uint64_t available = std::filesystem::space(dir_.path()).available;
  EXPECT_NEAR(static_cast<double>(*free), static_cast<double>(available), 64.0 * (1 << 20));
  EXPECT_GT(*free, 0u);
  auto missing = env_->FreeSpace(Path("missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(Path("missing")), std::string::npos) << missing.status().ToString();
}

TEST_P(EnvTest, ConcurrentBatchedReadersOnOneFile) {
  constexpr size_t kPage = 4096, kPages = 64;
  auto f = env_->OpenFile(Path("e"), OpenOptions{.write = true, .create = true});
  const auto data = Pattern(kPage * kPages, 1);
  ASSERT_TRUE((*f)->Write(0, data.data(), data.size()).ok());
  auto rf = env_->OpenFile(Path("e"), OpenOptions{.direct = true});
  ASSERT_TRUE(rf.ok());
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      AlignedBuffer buf(kPage * 8);
      for (int round = 0; round < 50; ++round) {
        std::vector<ReadRequest> reqs;
        for (size_t i = 0; i < 8; ++i) {
          reqs.push_back(
              ReadRequest{((round * 8 + i + t) % kPages) * kPage, kPage, buf.data() + i * kPage, 0, Status::Ok()});
        }
        (*rf)->ReadBatch(reqs);
        for (size_t i = 0; i < 8; ++i) {
          if (!reqs[i].status.ok() || std::memcmp(buf.data() + i * kPage, data.data() + reqs[i].offset, kPage) != 0)
            ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// Each thread reads and exits before the next starts, with nothing that joins
// them: a thread's io_uring ring may be mapped where an exited thread's was,
// and the two must still be ordered (TSan runs this).
TEST_P(EnvTest, ConcurrentThreadsReadAfterEarlierThreadsExit) {
  constexpr size_t kPage = 4096;
  auto f = env_->OpenFile(Path("g"), OpenOptions{.write = true, .create = true});
  const auto data = Pattern(kPage * 4, 5);
  ASSERT_TRUE((*f)->Write(0, data.data(), data.size()).ok());
  auto rf = env_->OpenFile(Path("g"), OpenOptions{.direct = true});
  ASSERT_TRUE(rf.ok());
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      AlignedBuffer buf(kPage);
      std::vector<ReadRequest> reqs{ReadRequest{(t % 4) * kPage, kPage, buf.data(), 0, Status::Ok()}};
      (*rf)->ReadBatch(reqs);
      if (!reqs[0].status.ok() || std::memcmp(buf.data(), data.data() + reqs[0].offset, kPage) != 0) ++bad;
    });
    // Ordering only: lets the thread exit (and free its ring) unjoined.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

VX_INSTANTIATE_ENV_TEST(EnvTest);

// A child forked by a thread that has read through io_uring reads through
// a ring of its own (the parent's ring memory is shared with the child, so
// a child killed with reads in flight would leave the parent's stuck), and
// the parent reads on after a child that exited with reads in flight.
TEST(IoUring, AForkedChildReadsThroughARingOfItsOwn) {
  std::string why;
  if (!IoQueue::Available(&why)) GTEST_SKIP() << why;
  auto env = NewPosixEnv(IoBackend::kIoUring);
  ASSERT_TRUE(env.ok());
  testing::TempDir dir;
  const std::string path = dir / "f";
  constexpr size_t kPage = 4096, kPages = 64;
  const auto data = Pattern(kPage * kPages, 5);
  {
    auto f = (*env)->OpenFile(path, OpenOptions{.write = true, .create = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, data.data(), data.size()).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  auto rf = (*env)->OpenFile(path, OpenOptions{.direct = true});
  ASSERT_TRUE(rf.ok());
  AlignedBuffer buf(kPage * kPages);
  const auto read_all = [&]() -> bool {
    std::vector<ReadRequest> reqs;
    for (size_t i = 0; i < kPages; ++i)
      reqs.push_back(ReadRequest{i * kPage, kPage, buf.data() + i * kPage, 0, Status::Ok()});
    (*rf)->ReadBatch(reqs);
    for (const ReadRequest& r : reqs)
      if (!r.status.ok() || r.bytes_read != kPage) return false;
    return std::memcmp(buf.data(), data.data(), data.size()) == 0;
  };
  ASSERT_TRUE(read_all());  // the thread's ring now exists
  Result<IoQueue*> parent_ring = IoQueue::ForThisThread();
  ASSERT_TRUE(parent_ring.ok());
  for (int round = 0; round < 3; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Result<IoQueue*> ring = IoQueue::ForThisThread();
      if (!ring.ok() || *ring == *parent_ring) ::_exit(1);
      if (!read_all()) ::_exit(2);
      // Reads left in flight at exit, as a kill leaves them.
      const int fd = ::open(path.c_str(), O_RDONLY);
      for (size_t i = 0; i < kPages; ++i) (*ring)->Queue(fd, buf.data() + i * kPage, kPage, i * kPage, i);
      (*ring)->Submit();
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    ASSERT_TRUE(read_all()) << "round " << round;
  }
}

TEST(PosixEnv, AutoBackendSaysWhichItUses) {
  auto env = NewPosixEnv(IoBackend::kAuto);
  ASSERT_TRUE(env.ok());
  const std::string d = (*env)->Describe();
  EXPECT_TRUE(d == "io_uring" || d.rfind("pread (io_uring unavailable: ", 0) == 0) << d;
}

}  // namespace
}  // namespace vx
