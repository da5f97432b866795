// IndexWriter deletes, for both index types: deleted keys are never
// returned and searches still return k live rows at the recall of exact
// search over the live rows; deletes are durable through the WAL (replayed
// by Index::Open), folded into a tombstones segment by Checkpoint, atomic
// per batch across power cuts (FaultEnv) and SIGKILL, and run beside
// searches and opens.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "index_test_util.h"
#include "io/fault_env.h"
#include "io/wal.h"

namespace vx {
namespace {

constexpr uint64_t kRows = 6000;
constexpr uint32_t kDim = 32;

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int64_t KeyOf(uint64_t row) { return 1000 + 7 * static_cast<int64_t>(row); }

class WriterTest : public ::testing::TestWithParam<IndexType> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam());
    for (uint64_t i = 0; i < kRows; ++i) o_.keys.push_back(KeyOf(i));
    b_ = BuildSyntheticIndex(o_);
    auto reader = VectorReader::Open(b_->dir / "base.fbin");
    ASSERT_TRUE(reader.ok());
    base_.resize(kRows * kDim);
    ASSERT_TRUE((*reader)->ReadFloat(kRows, base_.data()).ok());
    p_.k = 10;
    p_.ef_search = 64;
    p_.probes = 3;
  }

  std::string dir() const { return b_->index(); }

  static std::unique_ptr<IndexWriter> OpenWriter(const std::string& dir, Env* env = nullptr) {
    IndexOptions io;
    io.env = env;
    auto w = IndexWriter::Open(dir, io);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(*w) : nullptr;
  }

  // The exact k nearest keys of query q among rows whose key is not in `deleted`.
  std::vector<int64_t> ExactLive(uint64_t q, const std::set<int64_t>& deleted, uint32_t k) const {
    std::vector<std::pair<float, int64_t>> all;
    const float* query = b_->queries.row(q);
    for (uint64_t r = 0; r < kRows; ++r) {
      if (deleted.count(KeyOf(r))) continue;
      float d = 0;
      for (uint32_t j = 0; j < kDim; ++j) d += (query[j] - base_[r * kDim + j]) * (query[j] - base_[r * kDim + j]);
      all.push_back({d, KeyOf(r)});
    }
    k = std::min<uint32_t>(k, static_cast<uint32_t>(all.size()));
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    std::vector<int64_t> keys;
    for (uint32_t i = 0; i < k; ++i) keys.push_back(all[i].second);
    return keys;
  }

  // Every result is a live key, every query gets min(k, live) results, and
  // recall@k against exact search over the live rows.
  double CheckAndRecall(const std::vector<std::vector<SearchResult>>& got, const std::set<int64_t>& deleted) const {
    uint64_t hits = 0, want = 0;
    for (uint64_t q = 0; q < got.size(); ++q) {
      const std::vector<int64_t> exact = ExactLive(q, deleted, p_.k);
      EXPECT_EQ(got[q].size(), exact.size()) << "query " << q;
      for (const SearchResult& r : got[q]) {
        EXPECT_FALSE(deleted.count(r.key)) << "query " << q << " returned deleted key " << r.key;
        hits += std::count(exact.begin(), exact.end(), r.key);
      }
      want += exact.size();
    }
    return double(hits) / double(want);
  }

  // `n` keys not in `deleted`, drawn at random.
  std::vector<int64_t> LiveKeys(std::mt19937_64& rng, const std::set<int64_t>& deleted, size_t n) const {
    std::vector<int64_t> keys;
    while (keys.size() < n) {
      const int64_t key = KeyOf(std::uniform_int_distribution<uint64_t>(0, kRows - 1)(rng));
      if (!deleted.count(key) && std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    return keys;
  }

  std::vector<std::string> GenerationFiles() const {
    std::vector<std::string> names;
    const std::string gen = std::filesystem::path(IndexFile(dir(), "x")).parent_path();
    for (const auto& e : std::filesystem::directory_iterator(gen)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  BuildOptions o_;
  std::unique_ptr<Built> b_;
  std::vector<float> base_;
  SearchParams p_;
};

// 20% deleted in batches: no search returns a deleted key, each returns k,
// recall over the live rows stays that of the index before the deletes
// over all rows; the reader, an Index opened from the WAL, and one opened
// after each checkpoint return the same results.
TEST_P(WriterTest, DeletedKeysAreNeverReturnedAndRecallOverLiveRowsHolds) {
  auto fresh = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(fresh.ok());
  const double recall_before = CheckAndRecall(SearchAll(**fresh, b_->queries, p_), {});
  ASSERT_GE(recall_before, 0.9);

  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  std::mt19937_64 rng(3);
  std::set<int64_t> deleted;
  for (int batch = 0; batch < 12; ++batch) {
    const std::vector<int64_t> keys = LiveKeys(rng, deleted, 100);
    ASSERT_TRUE(w->Delete(keys.data(), keys.size()).ok());
    deleted.insert(keys.begin(), keys.end());
    EXPECT_FALSE(w->Contains(keys.front()));
  }
  EXPECT_TRUE(w->Contains(LiveKeys(rng, deleted, 1)[0]));
  EXPECT_FALSE(w->Contains(-5));
  EXPECT_EQ(w->info().deleted, deleted.size());
  EXPECT_GT(w->info().wal_bytes, deleted.size() * 4);
  const auto got = SearchAll(w->reader(), b_->queries, p_);
  EXPECT_GE(CheckAndRecall(got, deleted), recall_before - 0.02);
  // The index opened before the deletes still serves all rows.
  EXPECT_EQ(CheckAndRecall(SearchAll(**fresh, b_->queries, p_), {}), recall_before);

  auto replayed = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_EQ((*replayed)->info().deleted, deleted.size());
  EXPECT_TRUE((*replayed)->info().segments.empty());
  ExpectSame(got, SearchAll(**replayed, b_->queries, p_));

  ASSERT_TRUE(w->Checkpoint().ok());
  IndexInfo info = w->info();
  ASSERT_EQ(info.segments.size(), 1u);
  EXPECT_EQ(info.segments[0].kind, "tombstones");
  EXPECT_EQ(info.segments[0].id, 1u);
  EXPECT_EQ(info.wal_bytes, std::filesystem::file_size(IndexFile(dir(), "wal")));
  EXPECT_LT(info.wal_bytes, 64u) << "the checkpoint left records in the WAL";
  auto folded = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  EXPECT_EQ((*folded)->info().deleted, deleted.size());
  ExpectSame(got, SearchAll(**folded, b_->queries, p_));

  // More deletes on top of the segment, then a second checkpoint replaces it.
  const std::vector<int64_t> more = LiveKeys(rng, deleted, 50);
  ASSERT_TRUE(w->Delete(more.data(), more.size()).ok());
  deleted.insert(more.begin(), more.end());
  auto both = Index::Open(dir(), IndexOptions{});  // segment + WAL
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ((*both)->info().deleted, deleted.size());
  const auto got2 = SearchAll(w->reader(), b_->queries, p_);
  CheckAndRecall(got2, deleted);
  ExpectSame(got2, SearchAll(**both, b_->queries, p_));
  ASSERT_TRUE(w->Checkpoint().ok());
  info = w->info();
  ASSERT_EQ(info.segments.size(), 1u);
  EXPECT_EQ(info.segments[0].id, 2u);
  const std::vector<std::string> files = GenerationFiles();
  EXPECT_EQ(std::count_if(files.begin(), files.end(), [](const std::string& f) { return f.starts_with("seg-"); }), 1)
      << "the replaced segment's file is still there";
  w.reset();
  auto reopened = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->info().deleted, deleted.size());
  ExpectSame(got2, SearchAll(**reopened, b_->queries, p_));
  auto w2 = OpenWriter(dir());
  ASSERT_NE(w2, nullptr);
  for (int64_t key : deleted) ASSERT_FALSE(w2->Contains(key)) << key;
  EXPECT_EQ(w2->info().deleted, deleted.size());
}

// With all but 7 rows deleted a search returns those 7: HNSW walks through
// the deleted nodes; IVF scans lists beyond `probes` until it has k.
TEST_P(WriterTest, NearlyEverythingDeletedStillReturnsTheLiveRows) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  std::set<int64_t> live;
  std::vector<int64_t> keys;
  for (uint64_t r = 0; r < kRows; ++r) {
    if (r % 857 == 3) {
      live.insert(KeyOf(r));
    } else {
      keys.push_back(KeyOf(r));
    }
  }
  ASSERT_EQ(live.size(), 7u);
  ASSERT_TRUE(w->Delete(keys.data(), keys.size()).ok());
  SearchStats stats;
  for (uint64_t q = 0; q < b_->queries.rows; ++q) {
    std::vector<SearchResult> got;
    ASSERT_TRUE(w->reader().Search(b_->queries.row(q), p_, &got, &stats).ok());
    std::set<int64_t> keys_got;
    for (const SearchResult& r : got) keys_got.insert(r.key);
    EXPECT_EQ(keys_got, live) << "query " << q;
  }
  if (GetParam() == IndexType::kIvf) {
    EXPECT_GT(stats.lists_widened, 0u);
  }
}

// A refused batch applies nothing: not to searches, the WAL or a reopen.
TEST_P(WriterTest, RefusedBatchesApplyNothing) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  const int64_t a = KeyOf(10), b = KeyOf(20), c = KeyOf(30);
  ASSERT_TRUE(w->Delete(&c, 1).ok());
  const uint64_t wal = w->info().wal_bytes;
  struct Case {
    std::vector<int64_t> keys;
    StatusCode code;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{a, b, 999999}, StatusCode::kNotFound, "key 999999 (item 2 of the batch) does not exist"},
      {{a, c, b}, StatusCode::kNotFound, "key " + std::to_string(c) + " (item 1 of the batch) is already deleted"},
      {{a, b, a}, StatusCode::kInvalidArgument, "key " + std::to_string(a) + " repeats in the batch"},
  };
  for (const Case& k : cases) {
    const Status s = w->Delete(k.keys.data(), k.keys.size());
    EXPECT_EQ(s.code(), k.code) << s.ToString();
    EXPECT_NE(s.message().find(k.names), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("nothing was deleted"), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(w->Contains(a));
  EXPECT_TRUE(w->Contains(b));
  EXPECT_EQ(w->info().deleted, 1u);
  EXPECT_EQ(w->info().wal_bytes, wal);
  w.reset();
  auto w2 = OpenWriter(dir());
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->info().deleted, 1u);
  EXPECT_TRUE(w2->Contains(a));
  const int64_t ab[] = {a, b};
  EXPECT_TRUE(w2->Delete(ab, 2).ok());
  EXPECT_EQ(w2->info().deleted, 3u);
  // Writes that are not implemented say so.
  const std::vector<float> v(kDim, 0.5f);
  const int64_t fresh_key = 7;
  EXPECT_EQ(w2->Insert(&fresh_key, v.data(), 1).code(), StatusCode::kNotSupported);
  EXPECT_EQ(w2->Upsert(&fresh_key, v.data(), 1).code(), StatusCode::kNotSupported);
  EXPECT_EQ(w2->Vacuum().code(), StatusCode::kNotSupported);
}

// One writer per directory, and no build into it meanwhile; a rebuild
// after the writer closes replaces the index and its deletes.
TEST_P(WriterTest, OneWriterPerDirectoryAndARebuildReplacesTheDeletes) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  auto second = IndexWriter::Open(dir(), IndexOptions{});
  ASSERT_EQ(second.status().code(), StatusCode::kBusy) << second.status().ToString();
  EXPECT_NE(second.status().message().find("writer"), std::string::npos);
  const Status build = BuildIndex(b_->dir / "base.fbin", dir(), o_);
  EXPECT_EQ(build.code(), StatusCode::kBusy) << build.ToString();
  const int64_t key = KeyOf(5);
  ASSERT_TRUE(w->Delete(&key, 1).ok());
  w.reset();
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", dir(), o_).ok());
  auto rebuilt = OpenWriter(dir());
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_TRUE(rebuilt->Contains(key));
  EXPECT_EQ(rebuilt->info().deleted, 0u);
  EXPECT_EQ(IndexWriter::Open(b_->dir / "nothing-here", IndexOptions{}).status().code(), StatusCode::kNotFound);
}

// Power cuts at random points of a run of deletes with a checkpoint every
// fifth batch: after each, the index holds every acknowledged batch, and
// of the batch in flight all of it or none.
TEST_P(WriterTest, PowerCutsKeepExactlyTheAcknowledgedDeletes) {
  std::mt19937_64 rng(5);
  std::set<int64_t> acked;
  int whole_in_flight = 0, lost_in_flight = 0, checkpoints = 0;
  for (int trial = 0; trial < 24; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    FaultEnv fault(DefaultEnv());
    auto w = OpenWriter(dir(), &fault);
    ASSERT_NE(w, nullptr);
    fault.CutPowerAfterWrites(fault.BytesWritten() + std::uniform_int_distribution<uint64_t>(0, 12000)(rng));
    std::vector<int64_t> in_flight;
    for (int batch = 1;; ++batch) {
      in_flight = LiveKeys(rng, acked, 20);
      if (!w->Delete(in_flight.data(), in_flight.size()).ok()) break;
      acked.insert(in_flight.begin(), in_flight.end());
      in_flight.clear();
      if (batch % 5 == 0) {
        if (!w->Checkpoint().ok()) break;
        ++checkpoints;
      }
    }
    w.reset();
    ASSERT_TRUE(fault.SimulateCrash().ok());

    auto after = OpenWriter(dir());
    ASSERT_NE(after, nullptr);
    for (int64_t key : acked) ASSERT_FALSE(after->Contains(key)) << "acknowledged delete of " << key << " lost";
    const size_t applied =
        std::count_if(in_flight.begin(), in_flight.end(), [&](int64_t k) { return !after->Contains(k); });
    ASSERT_TRUE(applied == 0 || applied == in_flight.size()) << applied << " of the batch in flight applied";
    if (applied > 0) {
      ++whole_in_flight;
      acked.insert(in_flight.begin(), in_flight.end());
    } else {
      ++lost_in_flight;
    }
    ASSERT_EQ(after->info().deleted, acked.size());
    // No file of a checkpoint cut before its commit outlives the writer's open.
    std::set<std::string> named;
    for (const ManifestFile& f : ReadManifest(DefaultEnv(), dir())->AllFiles()) named.insert(f.name);
    for (const std::string& f : GenerationFiles()) {
      if (f.starts_with("seg-")) {
        EXPECT_TRUE(named.count(f)) << f << " is not in the manifest";
      }
    }
    auto index = Index::Open(dir(), IndexOptions{});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ((*index)->info().deleted, acked.size());
  }
  EXPECT_GT(checkpoints, 5);
  EXPECT_GT(lost_in_flight, 0);
  auto index = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(index.ok());
  CheckAndRecall(SearchAll(**index, b_->queries, p_), acked);
}

// ENOSPC: a checkpoint that cannot write its segment or its manifest fails
// and changes nothing, and the writer goes on; a delete whose WAL append
// fails is not applied and stops the writer (as PostgreSQL stops after a
// failed WAL write). The next open has every acknowledged delete and no
// stray segment file.
TEST_P(WriterTest, NoSpaceInADeleteOrACheckpointLosesNothingAcknowledged) {
  FaultEnv fault(DefaultEnv());
  auto w = OpenWriter(dir(), &fault);
  ASSERT_NE(w, nullptr);
  const int64_t a = KeyOf(1), b = KeyOf(2), c = KeyOf(3);
  ASSERT_TRUE(w->Delete(&a, 1).ok());
  for (const char* file : {"tombstones", "MANIFEST"}) {
    SCOPED_TRACE(file);
    fault.FailWritesAfter(file, 0);
    const Status s = w->Checkpoint();
    EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
    fault.ClearFaults();
    EXPECT_TRUE(w->info().segments.empty());
    EXPECT_TRUE(ReadManifest(DefaultEnv(), dir())->segments.empty());
    EXPECT_FALSE(w->Contains(a));
    auto index = Index::Open(dir(), IndexOptions{});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ((*index)->info().deleted, 1u);
  }
  ASSERT_TRUE(w->Delete(&b, 1).ok());
  fault.FailWritesAfter("/wal", 0);
  Status s = w->Delete(&c, 1);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_TRUE(w->Contains(c)) << "a failed delete was applied";
  fault.ClearFaults();
  s = w->Delete(&c, 1);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << "the writer went on after a failed WAL write: " << s.ToString();
  w.reset();
  auto after = OpenWriter(dir());
  ASSERT_NE(after, nullptr);
  EXPECT_FALSE(after->Contains(a));
  EXPECT_FALSE(after->Contains(b));
  EXPECT_TRUE(after->Contains(c));
  for (const std::string& f : GenerationFiles()) EXPECT_FALSE(f.starts_with("seg-")) << f << " left behind";
  ASSERT_TRUE(after->Checkpoint().ok());
  EXPECT_EQ(after->info().deleted, 2u);
}

// Checksums: a damaged tombstones segment, or a damaged WAL record before
// the log's tail, fails the open with Corruption naming the file; so does a
// log that has lost the records after the checkpoint. Readers and writers
// alike.
TEST_P(WriterTest, DamagedSegmentOrLogIsCorruptionNamingTheFile) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  std::vector<int64_t> keys = {KeyOf(1), KeyOf(2), KeyOf(3)};
  ASSERT_TRUE(w->Delete(keys.data(), 1).ok());
  ASSERT_TRUE(w->Checkpoint().ok());
  ASSERT_TRUE(w->Delete(keys.data() + 1, 1).ok());
  ASSERT_TRUE(w->Delete(keys.data() + 2, 1).ok());
  w.reset();
  std::string seg_file;
  for (const std::string& f : GenerationFiles()) {
    if (f.starts_with("seg-")) seg_file = IndexFile(dir(), f);
  }
  ASSERT_FALSE(seg_file.empty());
  const std::string wal = IndexFile(dir(), "wal");
  const std::vector<uint8_t> seg_copy = ReadBytes(seg_file), wal_copy = ReadBytes(wal);

  FlipByte(seg_file, std::filesystem::file_size(seg_file) - 1);
  auto index = Index::Open(dir(), IndexOptions{});
  ASSERT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
  EXPECT_NE(index.status().message().find(seg_file), std::string::npos) << index.status().ToString();
  EXPECT_EQ(IndexWriter::Open(dir(), IndexOptions{}).status().code(), StatusCode::kCorruption);
  testing::WriteBytes(seg_file, seg_copy);

  FlipByte(wal, 40);  // inside the first of two records: not a torn tail
  index = Index::Open(dir(), IndexOptions{});
  ASSERT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
  EXPECT_NE(index.status().message().find(wal), std::string::npos) << index.status().ToString();
  EXPECT_EQ(IndexWriter::Open(dir(), IndexOptions{}).status().code(), StatusCode::kCorruption);
  testing::WriteBytes(wal, wal_copy);

  // A whole log that starts past the checkpoint (LSN 1) has lost LSNs 2-4.
  std::filesystem::remove(wal);
  ASSERT_TRUE(
      Wal::Open(DefaultEnv(), wal, WalOptions{.first_lsn = 5}, [](const WalRecord&) { return Status::Ok(); }).ok());
  index = Index::Open(dir(), IndexOptions{});
  ASSERT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
  EXPECT_NE(index.status().message().find("records between are missing"), std::string::npos)
      << index.status().ToString();
  EXPECT_EQ(IndexWriter::Open(dir(), IndexOptions{}).status().code(), StatusCode::kCorruption);
  testing::WriteBytes(wal, wal_copy);
  index = Index::Open(dir(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->info().deleted, 3u);
}

// Searches on three threads and repeated opens run beside a writer that
// deletes and checkpoints: no search returns a key whose delete was
// acknowledged before it started, every open succeeds and sees at least
// the deletes acknowledged before it. Run under TSan too.
TEST_P(WriterTest, ConcurrentSearchesAndOpensBesideDeletesAndCheckpoints) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  // Keys deleted in order, 30 a batch; `acked` batches are acknowledged.
  std::vector<int64_t> order(kRows);
  for (uint64_t r = 0; r < kRows; ++r) order[r] = KeyOf(r);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(9));
  constexpr size_t kBatch = 30, kBatches = 60;
  std::map<int64_t, size_t> batch_of;
  for (size_t i = 0; i < kBatch * kBatches; ++i) batch_of[order[i]] = i / kBatch;
  std::atomic<size_t> acked{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> searches{0}, opens{0};
  std::vector<std::string> errors(5);
  auto check = [&](const std::vector<SearchResult>& got, size_t acked_before, std::string* error) {
    for (const SearchResult& r : got) {
      auto it = batch_of.find(r.key);
      if (it != batch_of.end() && it->second < acked_before)
        *error = "key " + std::to_string(r.key) + " returned after its delete was acknowledged";
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::vector<SearchResult> got;
      for (uint64_t q = t; !done; q = (q + 3) % b_->queries.rows) {
        const size_t before = acked;
        const Status s = w->reader().Search(b_->queries.row(q), p_, &got, nullptr);
        if (!s.ok()) errors[t] = s.ToString();
        check(got, before, &errors[t]);
        ++searches;
      }
    });
  }
  threads.emplace_back([&] {
    std::vector<SearchResult> got;
    while (!done) {
      const size_t before = acked;
      auto index = Index::Open(dir(), IndexOptions{});
      if (!index.ok()) {
        errors[3] = index.status().ToString();
        return;
      }
      if ((*index)->info().deleted < before * kBatch) errors[3] = "an open missed acknowledged deletes";
      if (!(*index)->Search(b_->queries.row(opens % b_->queries.rows), p_, &got, nullptr).ok()) errors[3] = "search";
      check(got, before, &errors[3]);
      ++opens;
    }
  });
  for (size_t batch = 0; batch < kBatches; ++batch) {
    const Status s = w->Delete(order.data() + batch * kBatch, kBatch);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ++acked;
    if (batch % 2 == 1) {  // often: each checkpoint replaces the segment and the log under the opens
      const Status c = w->Checkpoint();
      ASSERT_TRUE(c.ok()) << c.ToString();
    }
    std::this_thread::yield();
  }
  done = true;
  for (auto& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  EXPECT_GT(searches, 0u);
  EXPECT_GT(opens, 0u);
  EXPECT_EQ(w->info().deleted, kBatch * kBatches);
}

// Deletes from four threads at once (their WAL records share fsyncs) beside
// a thread that checkpoints: every thread's own keys are deleted; of the
// keys all four race to delete, each is deleted once (the others get
// NotFound or Busy); reopened, the index holds exactly what was
// acknowledged. Run under TSan too.
TEST_P(WriterTest, ConcurrentDeletersAndCheckpointsKeepEveryAcknowledgedDelete) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  constexpr int kThreads = 4, kOwn = 60, kContested = 20;
  std::atomic<bool> done{false};
  std::vector<std::string> errors(kThreads + 1);
  std::vector<std::vector<int64_t>> won(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOwn + kContested; ++i) {
        const bool contested = i % 4 == 0 && i / 4 < kContested;
        const int64_t key = contested ? KeyOf(i / 4) : KeyOf(100 + t * kOwn + i - std::min(i / 4 + 1, kContested));
        const Status s = w->Delete(&key, 1);
        if (s.ok()) {
          won[t].push_back(key);
        } else if (!contested || (s.code() != StatusCode::kNotFound && s.code() != StatusCode::kBusy)) {
          errors[t] = s.ToString();
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (!done) {
      const Status s = w->Checkpoint();
      if (!s.ok()) errors[kThreads] = s.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (int t = 0; t < kThreads; ++t) threads[t].join();
  done = true;
  threads.back().join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  std::set<int64_t> acked;
  for (const auto& keys : won) {
    for (int64_t key : keys) EXPECT_TRUE(acked.insert(key).second) << "key " << key << " deleted twice";
  }
  for (int c = 0; c < kContested; ++c) EXPECT_TRUE(acked.count(KeyOf(c))) << "contested key " << c;
  EXPECT_EQ(acked.size(), size_t{kThreads * kOwn + kContested});
  EXPECT_EQ(w->info().deleted, acked.size());
  w.reset();
  auto reopened = OpenWriter(dir());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->info().deleted, acked.size());
  for (int64_t key : acked) EXPECT_FALSE(reopened->Contains(key)) << key;
}

// Snapshots hold the base generation only: an index with writes is refused.
TEST_P(WriterTest, SnapshotOfAnIndexWithDeletesIsRefused) {
  auto w = OpenWriter(dir());
  ASSERT_NE(w, nullptr);
  const int64_t key = KeyOf(1);
  ASSERT_TRUE(w->Delete(&key, 1).ok());
  Result<SnapshotInfo> s = Snapshot(dir(), b_->dir / "a.vxs", SnapshotOptions{});
  EXPECT_EQ(s.status().code(), StatusCode::kNotSupported) << s.status().ToString();
  ASSERT_TRUE(w->Checkpoint().ok());
  s = Snapshot(dir(), b_->dir / "b.vxs", SnapshotOptions{});
  EXPECT_EQ(s.status().code(), StatusCode::kNotSupported) << s.status().ToString();
  EXPECT_NE(s.status().message().find("segments"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Types, WriterTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return info.param == IndexType::kHnsw ? "Hnsw" : "Ivf"; });

// Real crashes: a child process deletes batches of keys in a fixed order,
// checkpointing every seventh, reports each acknowledged batch on a pipe
// and is killed with SIGKILL at a random point; the reopened index has
// every reported batch deleted, of the batch in flight all or none, and
// nothing after it. VX_WRITER_CRASH_TRIALS sets the number of kills
// (perf/crash_trials.sh writer runs hundreds).
TEST(WriterCrash, SigkillOfADeletingProcessLosesNoAcknowledgedDelete) {
  const char* env_trials = std::getenv("VX_WRITER_CRASH_TRIALS");
  const int trials = env_trials != nullptr ? std::atoi(env_trials) : 10;
  BuildOptions o = DeterministicOptions(IndexType::kHnsw);
  for (uint64_t i = 0; i < kRows; ++i) o.keys.push_back(KeyOf(i));
  auto b = BuildSyntheticIndex(o);
  std::vector<int64_t> order(kRows);
  for (uint64_t r = 0; r < kRows; ++r) order[r] = KeyOf(r);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(13));
  constexpr size_t kBatch = 10;
  std::mt19937_64 rng(17);
  size_t done = 0;  // batches deleted: order[0, done * kBatch)
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    if ((done + 40) * kBatch > kRows) {  // keys running out: a rebuild replaces the index and its deletes
      ASSERT_TRUE(BuildIndex(b->dir / "base.fbin", b->index(), o).ok());
      done = 0;
    }
    int fd = -1;
    const pid_t pid = testing::ForkWithPipe(&fd, [&](int out) {
      auto w = IndexWriter::Open(b->index(), IndexOptions{});
      if (!w.ok()) ::_exit(3);
      for (size_t batch = done; (batch + 1) * kBatch <= kRows; ++batch) {
        if (!(*w)->Delete(order.data() + batch * kBatch, kBatch).ok()) ::_exit(4);
        if (batch % 7 == 6 && !(*w)->Checkpoint().ok()) ::_exit(5);
        const uint64_t msg = batch;
        if (::write(out, &msg, sizeof msg) != sizeof msg) ::_exit(6);
      }
    });
    ASSERT_GE(pid, 0);
    const uint64_t kill_after = std::uniform_int_distribution<uint64_t>(1, 30)(rng);
    size_t reported = done;  // batches [done, reported) acknowledged
    ASSERT_TRUE(
        testing::KillChildAfterMessages<uint64_t>(pid, fd, kill_after, [&](uint64_t batch) { reported = batch + 1; }));

    auto w = IndexWriter::Open(b->index(), IndexOptions{});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (size_t i = 0; i < reported * kBatch; ++i) ASSERT_FALSE((*w)->Contains(order[i])) << "batch " << i / kBatch;
    size_t applied = 0;  // of the batch in flight
    for (size_t i = reported * kBatch; i < (reported + 1) * kBatch; ++i) applied += !(*w)->Contains(order[i]);
    ASSERT_TRUE(applied == 0 || applied == kBatch) << applied << " of the batch in flight applied";
    done = reported + (applied > 0);
    for (size_t i = done * kBatch; i < kRows; ++i) ASSERT_TRUE((*w)->Contains(order[i]));
    ASSERT_EQ((*w)->info().deleted, done * kBatch);
  }
  auto index = Index::Open(b->index(), IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
}

}  // namespace
}  // namespace vx
