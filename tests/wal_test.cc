// The write-ahead log: what is acknowledged survives a crash (SIGKILL of a
// real process, and FaultEnv's power cut), a torn tail is cut at the last
// whole record, and damage before the tail is an error naming its offset.
#include "io/wal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "io/fault_env.h"
#include "io_test_util.h"

namespace vx {
namespace {

using testing::EnvTest;

// A payload that names its writer and its place in that writer's sequence,
// with filler derived from both (sizes vary: records cross read chunks).
std::vector<uint8_t> Payload(uint32_t writer, uint64_t seq) {
  const size_t n = 12 + (writer * 131 + seq * 977) % 3000;
  std::vector<uint8_t> p(n);
  std::memcpy(p.data(), &writer, 4);
  std::memcpy(p.data() + 4, &seq, 8);
  for (size_t i = 12; i < n; ++i) p[i] = static_cast<uint8_t>(writer * 7 + seq * 13 + i);
  return p;
}

struct Replayed {
  std::vector<uint64_t> lsns;
  std::map<uint32_t, std::vector<uint64_t>> seqs;  // per writer, in log order
  std::vector<std::vector<uint8_t>> payloads;
  WalReplay found;
  Status status;
};

// Opens the log, checking that every record is a well-formed Payload of
// its writer.
Replayed OpenAndReplay(Env* env, const std::string& path, std::unique_ptr<Wal>* keep = nullptr,
                       WalOptions options = {}) {
  Replayed r;
  auto wal = Wal::Open(
      env, path, options,
      [&](const WalRecord& rec) {
        r.lsns.push_back(rec.lsn);
        r.payloads.emplace_back(rec.payload.begin(), rec.payload.end());
        if (rec.payload.size() < 12) return Status::Corruption("payload too short");
        uint32_t writer;
        uint64_t seq;
        std::memcpy(&writer, rec.payload.data(), 4);
        std::memcpy(&seq, rec.payload.data() + 4, 8);
        const auto want = Payload(writer, seq);
        if (rec.type != writer + 1 || !std::equal(want.begin(), want.end(), rec.payload.begin(), rec.payload.end()))
          return Status::Corruption("record " + std::to_string(rec.lsn) + " holds the wrong bytes");
        r.seqs[writer].push_back(seq);
        return Status::Ok();
      },
      &r.found);
  r.status = wal.status();
  if (wal.ok() && keep != nullptr) *keep = std::move(*wal);
  return r;
}

// LSNs run from `first` without a gap; each writer's records are its first
// ones in order, at least up to its last acknowledged.
void ExpectWholePrefix(const Replayed& r, uint64_t first, const std::map<uint32_t, int64_t>& acked) {
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (size_t i = 0; i < r.lsns.size(); ++i) ASSERT_EQ(r.lsns[i], first + i);
  for (const auto& [writer, seqs] : r.seqs) {
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i) << "writer " << writer;
  }
  for (const auto& [writer, last] : acked) {
    const auto it = r.seqs.find(writer);
    const int64_t have = it == r.seqs.end() ? -1 : static_cast<int64_t>(it->second.size()) - 1;
    EXPECT_GE(have, last) << "writer " << writer << " lost acknowledged records";
  }
}

// A new log at `path` (none there) holding writer 0's records 0..n-1, their
// LSNs 1..n; null, with a test failure, if it cannot be written.
std::unique_ptr<Wal> NewLog(Env* env, const std::string& path, uint64_t n, WalOptions options = {}) {
  std::unique_ptr<Wal> wal;
  const Status opened = OpenAndReplay(env, path, &wal, options).status;
  if (!opened.ok()) {
    ADD_FAILURE() << opened.ToString();
    return nullptr;
  }
  for (uint64_t s = 0; s < n; ++s) {
    auto lsn = wal->Append(1, Payload(0, s));
    if (!lsn.ok() || *lsn != s + 1) {
      ADD_FAILURE() << "record " << s << ": " << (lsn.ok() ? "LSN " + std::to_string(*lsn) : lsn.status().ToString());
      return nullptr;
    }
  }
  return wal;
}

void Flip(const std::string& path, uint64_t offset) {
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  const int c = std::fgetc(f);
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  std::fputc(c ^ 0x40, f);
  std::fclose(f);
}

class WalTest : public EnvTest {};

TEST_P(WalTest, RecordsComeBackInOrderAfterReopenAndReset) {
  const std::string path = Path("wal");
  {
    std::unique_ptr<Wal> wal = NewLog(env_.get(), path, 300);
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(wal->next_lsn(), 301u);
  }
  std::unique_ptr<Wal> wal;
  Replayed r = OpenAndReplay(env_.get(), path, &wal);
  ExpectWholePrefix(r, 1, {{0, 299}});
  EXPECT_EQ(r.lsns.size(), 300u);
  EXPECT_EQ(r.found.cut_bytes, 0u);
  EXPECT_EQ(r.found.bytes, wal->size_bytes());
  // Emptied after a checkpoint: the next records go on from LSN 301.
  ASSERT_TRUE(wal->Reset().ok());
  EXPECT_LT(wal->size_bytes(), 100u);
  for (uint64_t s = 0; s < 3; ++s) ASSERT_EQ(*wal->Append(2, Payload(1, s)), 301 + s);
  wal.reset();
  r = OpenAndReplay(env_.get(), path);
  ExpectWholePrefix(r, 301, {{1, 2}});
  EXPECT_EQ(r.lsns.size(), 3u);
  EXPECT_EQ(r.seqs.count(0), 0u);
}

TEST_P(WalTest, TornAppendIsCutAtTheLastWholeRecordAndTheLogGoesOn) {
  const std::string path = Path("wal");
  for (size_t keep : {size_t{0}, size_t{5}, size_t{24}, size_t{30}, size_t{200}}) {
    SCOPED_TRACE("torn after " + std::to_string(keep) + " bytes");
    env_->DeleteFile(path).ok();
    FaultEnv fault(env_.get());
    std::unique_ptr<Wal> wal = NewLog(&fault, path, 4);
    ASSERT_NE(wal, nullptr);
    fault.TearNextWrite("wal", keep);
    EXPECT_FALSE(wal->Append(1, Payload(0, 4)).ok());
    // Stopped: nothing more is accepted after a failed write.
    const auto after = wal->Append(1, Payload(0, 5));
    ASSERT_FALSE(after.ok());
    EXPECT_NE(after.status().message().find("WAL stopped"), std::string::npos) << after.status().ToString();
    wal.reset();
    fault.ClearFaults();
    Replayed r = OpenAndReplay(&fault, path, &wal);
    ExpectWholePrefix(r, 1, {{0, 3}});
    EXPECT_EQ(r.lsns.size(), 4u);
    EXPECT_EQ(r.found.cut_bytes, keep);
    ASSERT_TRUE(wal->Append(1, Payload(0, 4)).ok());
    wal.reset();
    r = OpenAndReplay(&fault, path);
    ExpectWholePrefix(r, 1, {{0, 4}});
    EXPECT_EQ(r.found.cut_bytes, 0u);
  }
}

TEST_P(WalTest, NoSpaceStopsTheLogAndKeepsWhatWasAcknowledged) {
  const std::string path = Path("wal");
  FaultEnv fault(env_.get());
  std::unique_ptr<Wal> wal;
  ASSERT_TRUE(OpenAndReplay(&fault, path, &wal).status.ok());
  fault.FailWritesAfter("wal", 20000);
  int64_t acked = -1;
  Status err;
  for (uint64_t s = 0; s < 100 && err.ok(); ++s) {
    auto lsn = wal->Append(1, Payload(0, s));
    if (lsn.ok()) {
      acked = static_cast<int64_t>(s);
    } else {
      err = lsn.status();
    }
  }
  ASSERT_EQ(err.code(), StatusCode::kNoSpace) << err.ToString();
  EXPECT_NE(err.message().find("wal"), std::string::npos) << err.ToString();
  EXPECT_GT(acked, 0);
  EXPECT_EQ(wal->Append(1, Payload(0, 1000)).status().code(), StatusCode::kNoSpace);
  wal.reset();
  fault.ClearFaults();
  const Replayed r = OpenAndReplay(&fault, path);
  ExpectWholePrefix(r, 1, {{0, acked}});
  EXPECT_EQ(static_cast<int64_t>(r.lsns.size()), acked + 1);
}

TEST_P(WalTest, ReadErrorAtOpenReachesTheCallerAndLeavesTheLog) {
  const std::string path = Path("wal");
  ASSERT_NE(NewLog(env_.get(), path, 1000, WalOptions{.sync_on_append = false}), nullptr);
  FaultEnv fault(env_.get());
  fault.FailReads("wal", 1);  // the first 1 MiB, then EIO (the log holds 1.5 MB)
  const Replayed r = OpenAndReplay(&fault, path);
  EXPECT_EQ(r.status.code(), StatusCode::kIOError) << r.status.ToString();
  EXPECT_NE(r.status.message().find("wal"), std::string::npos) << r.status.ToString();
  fault.ClearFaults();
  ExpectWholePrefix(OpenAndReplay(&fault, path), 1, {{0, 999}});
}

// Offsets of the records of a log written by one writer.
std::vector<uint64_t> RecordOffsets(uint64_t n) {
  std::vector<uint64_t> at;
  uint64_t o = 32;
  for (uint64_t s = 0; s < n; ++s) {
    at.push_back(o);
    o += 24 + Payload(0, s).size();
  }
  at.push_back(o);  // the end
  return at;
}

TEST(WalDamage, DamageBeforeTheTailIsAnErrorNamingItsOffset) {
  testing::TempDir dir;
  const std::string path = dir / "wal";
  const auto write_log = [&] {
    std::filesystem::remove(path);
    ASSERT_NE(NewLog(DefaultEnv(), path, 10), nullptr);
  };
  const auto at = RecordOffsets(10);
  // A payload byte, then a header byte, of the fourth record: corruption there.
  for (const uint64_t offset : {at[3] + 30, at[3] + 9}) {
    write_log();
    Flip(path, offset);
    const Replayed r = OpenAndReplay(DefaultEnv(), path);
    ASSERT_EQ(r.status.code(), StatusCode::kCorruption) << r.status.ToString();
    EXPECT_NE(r.status.message().find("at offset " + std::to_string(at[3]) + " "), std::string::npos)
        << r.status.ToString();
    EXPECT_EQ(r.lsns.size(), 3u);  // the records before it were replayed, then the open stopped
    EXPECT_EQ(std::filesystem::file_size(path), at[10]) << "a failed open must not cut the log";
  }
  // The file's header.
  write_log();
  Flip(path, 10);
  EXPECT_EQ(OpenAndReplay(DefaultEnv(), path).status.code(), StatusCode::kCorruption);
  // The last record's payload: a torn tail, cut.
  write_log();
  Flip(path, at[9] + 40);
  Replayed r = OpenAndReplay(DefaultEnv(), path);
  ExpectWholePrefix(r, 1, {{0, 8}});
  EXPECT_EQ(r.lsns.size(), 9u);
  EXPECT_EQ(r.found.cut_bytes, at[10] - at[9]);
  // Zeros after the last record (a file system extended the file): cut.
  write_log();
  std::filesystem::resize_file(path, at[10] + 5000);
  r = OpenAndReplay(DefaultEnv(), path);
  ExpectWholePrefix(r, 1, {{0, 9}});
  EXPECT_EQ(r.found.cut_bytes, 5000u);
  EXPECT_EQ(std::filesystem::file_size(path), at[10]);
}

// Power cuts at random points while four threads append (group commit):
// after each, the log holds every acknowledged record and nothing torn.
TEST_P(WalTest, ConcurrentAppendersSurvivePowerCutsWithEveryAcknowledgedRecord) {
  const std::string path = Path("wal");
  std::mt19937_64 rng(7);
  constexpr uint32_t kWriters = 4;
  std::map<uint32_t, int64_t> acked;  // over all trials: the log only grows
  for (uint32_t w = 0; w < kWriters; ++w) acked[w] = -1;
  std::map<uint32_t, uint64_t> next;  // each writer's next seq
  uint64_t appends = 0;
  for (int trial = 0; trial < 12; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    FaultEnv fault(env_.get());
    std::unique_ptr<Wal> wal;
    Replayed r = OpenAndReplay(&fault, path, &wal);
    ExpectWholePrefix(r, 1, acked);
    for (uint32_t w = 0; w < kWriters; ++w) next[w] = r.seqs[w].size();
    fault.CutPowerAfterWrites(std::uniform_int_distribution<uint64_t>(0, 200000)(rng));
    std::vector<std::thread> threads;
    std::vector<int64_t> last(kWriters, -1);
    std::atomic<uint64_t> n{0};
    for (uint32_t w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (uint64_t s = next[w];; ++s) {
          if (!wal->Append(static_cast<uint16_t>(w + 1), Payload(w, s)).ok()) return;
          last[w] = static_cast<int64_t>(s);
          ++n;
        }
      });
    }
    for (auto& t : threads) t.join();
    for (uint32_t w = 0; w < kWriters; ++w) acked[w] = std::max(acked[w], last[w]);
    appends += n;
    wal.reset();
    ASSERT_TRUE(fault.SimulateCrash().ok());
  }
  ExpectWholePrefix(OpenAndReplay(env_.get(), path), 1, acked);
  EXPECT_GT(appends, 100u);
}

// An Env whose file syncs wait while the gate is shut.
class SyncGate : public FaultEnv {
 public:
  using FaultEnv::FaultEnv;
  void Shut() { Set(false); }
  void Open() { Set(true); }
  // Whether n syncs are waiting at the gate within 30 s.
  bool WaitForSyncs(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(30), [&] { return waiting_ >= n; });
  }
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, const OpenOptions& opts) override {
    VX_ASSIGN_OR_RETURN(auto f, FaultEnv::OpenFile(path, opts));
    return std::unique_ptr<File>(new Gated(this, std::move(f)));
  }

 private:
  class Gated : public File {
   public:
    Gated(SyncGate* gate, std::unique_ptr<File> f) : File(f->path(), f->direct()), gate_(gate), f_(std::move(f)) {}
    Status Read(uint64_t o, size_t n, void* buf, size_t* got) override { return f_->Read(o, n, buf, got); }
    Status Write(uint64_t o, const void* buf, size_t n) override { return f_->Write(o, buf, n); }
    Status Sync() override {
      gate_->Pass();
      return f_->Sync();
    }
    Result<uint64_t> Size() override { return f_->Size(); }
    Status Allocate(uint64_t size) override { return f_->Allocate(size); }
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }

   private:
    SyncGate* gate_;
    std::unique_ptr<File> f_;
  };
  void Set(bool open) {
    std::lock_guard l(mu_);
    open_ = open;
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock l(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
    --waiting_;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// Group commit: appends that arrive while a sync runs are written and
// synced together by the next one, each acknowledged only after it.
TEST_P(WalTest, ConcurrentAppendsDuringASyncShareTheNextOne) {
  const std::string path = Path("wal");
  SyncGate gate(env_.get());
  std::unique_ptr<Wal> wal;
  ASSERT_TRUE(OpenAndReplay(&gate, path, &wal).status.ok());
  const uint64_t empty = wal->size_bytes();
  gate.Shut();
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  const auto append = [&](uint32_t w) {
    threads.emplace_back([&, w] {
      if (wal->Append(static_cast<uint16_t>(w + 1), Payload(w, 0)).ok()) ++acked;
    });
  };
  append(0);
  const bool in_sync = gate.WaitForSyncs(1);  // the first append is in its sync
  if (!in_sync) {
    gate.Open();
    for (auto& t : threads) t.join();
  }
  ASSERT_TRUE(in_sync) << "no sync reached the gate";
  for (uint32_t w = 1; w <= 3; ++w) append(w);
  // The three wait, encoded, for the next sync.
  const uint64_t queued = 3 * 24 + Payload(1, 0).size() + Payload(2, 0).size() + Payload(3, 0).size();
  while (wal->size_bytes() != empty + queued) std::this_thread::yield();
  EXPECT_EQ(acked.load(), 0) << "acknowledged before its sync finished";
  gate.Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(acked.load(), 4);
  EXPECT_EQ(wal->syncs(), 2u);
  wal.reset();
  const Replayed r = OpenAndReplay(env_.get(), path);
  ExpectWholePrefix(r, 1, {{0, 0}, {1, 0}, {2, 0}, {3, 0}});
  EXPECT_EQ(r.lsns.size(), 4u);
}

TEST_P(WalTest, WithoutSyncOnAppendAPowerCutKeepsTheSyncedPrefix) {
  const std::string path = Path("wal");
  FaultEnv fault(env_.get());
  std::unique_ptr<Wal> wal = NewLog(&fault, path, 50, WalOptions{.sync_on_append = false});
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->syncs(), 0u);
  ASSERT_TRUE(wal->Sync().ok());
  EXPECT_EQ(wal->syncs(), 1u);
  for (uint64_t s = 50; s < 80; ++s) ASSERT_TRUE(wal->Append(1, Payload(0, s)).ok());
  // A process crash keeps them (they reached the OS) ...
  {
    const Replayed r = OpenAndReplay(env_.get(), path);
    ExpectWholePrefix(r, 1, {{0, 79}});
  }
  // ... a power cut keeps those synced.
  wal.reset();
  ASSERT_TRUE(fault.SimulateCrash().ok());
  const Replayed r = OpenAndReplay(&fault, path);
  ExpectWholePrefix(r, 1, {{0, 49}});
  EXPECT_EQ(r.lsns.size(), 50u);
}

TEST_P(WalTest, PowerCutDuringResetLeavesTheOldLogOrTheEmptyOne) {
  const std::string path = Path("wal");
  int old_logs = 0, empty_logs = 0;
  for (uint64_t cut = 0; cut <= 40; cut += 8) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " bytes");
    env_->DeleteFile(path).ok();
    FaultEnv fault(env_.get());
    std::unique_ptr<Wal> wal = NewLog(&fault, path, 5);
    ASSERT_NE(wal, nullptr);
    fault.CutPowerAfterWrites(fault.BytesWritten() + cut);  // `cut` bytes into the reset
    const Status reset = wal->Reset();
    wal.reset();
    ASSERT_TRUE(fault.SimulateCrash().ok());
    std::unique_ptr<Wal> again;
    const Replayed r = OpenAndReplay(&fault, path, &again);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    if (r.lsns.empty()) {
      ++empty_logs;
      EXPECT_EQ(again->next_lsn(), 6u);  // the empty log goes on from LSN 6
    } else {
      ++old_logs;
      EXPECT_FALSE(reset.ok());
      ExpectWholePrefix(r, 1, {{0, 4}});
      EXPECT_EQ(r.lsns.size(), 5u);
    }
  }
  // The cuts fall before and after the new log is whole: both outcomes occur.
  EXPECT_GT(old_logs, 0);
  EXPECT_GT(empty_logs, 0);
}

// Real crashes: a child process appends from three threads, reporting each
// acknowledged record on a pipe, and is killed with SIGKILL at a random
// point; the log reopened holds every record reported. VX_WAL_CRASH_TRIALS
// sets the number of kills (perf/crash_trials.sh wal runs hundreds).
TEST(WalCrash, SigkillOfAnAppendingProcessLosesNoAcknowledgedRecord) {
  const char* env_trials = std::getenv("VX_WAL_CRASH_TRIALS");
  const int trials = env_trials != nullptr ? std::atoi(env_trials) : 10;
  testing::TempDir dir;
  const std::string path = dir / "wal";
  std::mt19937_64 rng(11);
  constexpr uint32_t kWriters = 3;
  std::map<uint32_t, int64_t> acked;
  for (uint32_t w = 0; w < kWriters; ++w) acked[w] = -1;
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    if (trial % 25 == 24) {  // a new log now and then: replay time grows with the log
      ExpectWholePrefix(OpenAndReplay(DefaultEnv(), path), 1, acked);
      std::filesystem::remove(path);
      for (auto& [w, last] : acked) last = -1;
    }
    Replayed before = OpenAndReplay(DefaultEnv(), path);
    ExpectWholePrefix(before, 1, acked);
    int fd = -1;
    const pid_t pid = testing::ForkWithPipe(&fd, [&](int out) {
      std::unique_ptr<Wal> wal;
      if (!OpenAndReplay(DefaultEnv(), path, &wal).status.ok()) ::_exit(3);
      std::mutex pipe_mu;
      std::vector<std::thread> threads;
      for (uint32_t w = 0; w < kWriters; ++w) {
        // Looked up before the thread starts: seqs[w] inserts, and three
        // threads inserting into one map at once corrupt it.
        const uint64_t first = before.seqs[w].size();
        threads.emplace_back([&, w, first] {
          for (uint64_t s = first;; ++s) {
            if (!wal->Append(static_cast<uint16_t>(w + 1), Payload(w, s)).ok()) ::_exit(4);
            const uint64_t msg[2] = {w, s};
            std::lock_guard l(pipe_mu);
            if (::write(out, msg, sizeof msg) != sizeof msg) ::_exit(5);
          }
        });
      }
      for (auto& t : threads) t.join();
    });
    ASSERT_GE(pid, 0);
    const uint64_t kill_after = std::uniform_int_distribution<uint64_t>(1, 300)(rng);
    using Msg = std::array<uint64_t, 2>;
    ASSERT_TRUE(testing::KillChildAfterMessages<Msg>(pid, fd, kill_after, [&](const Msg& m) {
      acked[static_cast<uint32_t>(m[0])] = std::max(acked[static_cast<uint32_t>(m[0])], int64_t(m[1]));
    }));
  }
  ExpectWholePrefix(OpenAndReplay(DefaultEnv(), path), 1, acked);
}

VX_INSTANTIATE_ENV_TEST(WalTest);

}  // namespace
}  // namespace vx
