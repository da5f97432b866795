// Buffer pool: correctness, counters, eviction, faults and concurrency, on
// every Env backend. The *Concurrent* tests also run under TSan.
#include "io/buffer_pool.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>

#include "io/fault_env.h"
#include "io_test_util.h"

namespace vx {
namespace {

constexpr size_t kPage = 4096;

// The bindings the test files' pages carry (io/page.h).
constexpr uint64_t kGraphBinding = 0x6A, kVectorBinding = 0x7E;
uint64_t BindingOf(PageType type) { return type == PageType::kVector ? kVectorBinding : kGraphBinding; }

uint8_t PayloadByte(uint64_t page, size_t i) { return static_cast<uint8_t>(page * 7 + i * 3); }

Status WritePagedFile(Env* env, const std::string& path, uint64_t pages, PageType type) {
  VX_ASSIGN_OR_RETURN(auto f, env->OpenFile(path, OpenOptions{.write = true, .create = true, .truncate = true}));
  std::vector<uint8_t> buf(kPage);
  for (uint64_t p = 0; p < pages; ++p) {
    for (size_t i = kPageHeaderSize; i < kPage; ++i) buf[i] = PayloadByte(p, i);
    SealPage(buf.data(), kPage, type, PageNo{p}, BindingOf(type));
    VX_RETURN_IF_ERROR(f->Write(p * kPage, buf.data(), kPage));
  }
  return f->Sync();
}

bool PayloadOk(const PageHandle& h, uint64_t page) {
  for (size_t i = kPageHeaderSize; i < kPage; i += 97) {
    if (h.data()[i] != PayloadByte(page, i)) return false;
  }
  return true;
}

class BufferPoolTest : public testing::EnvTest {
 protected:
  void Open(Env* env, uint64_t structure_pages, uint64_t pool_pages,
            std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    ASSERT_TRUE(WritePagedFile(env_.get(), Path("graph"), structure_pages, PageType::kGraph).ok());
    ASSERT_TRUE(WritePagedFile(env_.get(), Path("vectors"), 16, PageType::kVector).ok());
    auto g = env->OpenFile(Path("graph"), OpenOptions{.direct = true});
    auto v = env->OpenFile(Path("vectors"), OpenOptions{.direct = true});
    ASSERT_TRUE(g.ok() && v.ok());
    graph_file_ = std::move(g).value();
    vector_file_ = std::move(v).value();
    BufferPoolOptions o;
    o.budget_bytes = {pool_pages * kPage, 2 * kPage};
    o.frame_wait = wait;
    auto pool = BufferPool::Create(o);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(pool).value();
    graph_ = *pool_->AddFile(graph_file_.get(), PageClass::kStructure, PageType::kGraph, kGraphBinding);
    vectors_ = *pool_->AddFile(vector_file_.get(), PageClass::kVector, PageType::kVector, kVectorBinding);
  }
  PageRef G(uint64_t p) const { return PageRef{graph_, PageNo{p}}; }

  std::unique_ptr<File> graph_file_, vector_file_;
  std::unique_ptr<BufferPool> pool_;
  FileId graph_{}, vectors_{};
};

TEST_P(BufferPoolTest, PinsVerifiedPagesAndCountsHitsMissesReads) {
  Open(env_.get(), 8, 8);
  for (int round = 0; round < 3; ++round) {
    for (uint64_t p = 0; p < 8; ++p) {
      auto h = pool_->Pin(G(p));
      ASSERT_TRUE(h.ok()) << h.status().ToString();
      EXPECT_TRUE(PayloadOk(*h, p)) << "page " << p;
    }
  }
  const PoolStats s = pool_->Stats(PageClass::kStructure);
  EXPECT_EQ(s.misses, 8u);
  EXPECT_EQ(s.reads, 8u);
  EXPECT_EQ(s.hits, 16u);
  EXPECT_EQ(s.bytes_read, 8 * kPage);
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(pool_->Stats(PageClass::kVector).reads, 0u);  // classes are separate
}

TEST_P(BufferPoolTest, NeverHoldsMoreThanItsBudget) {
  Open(env_.get(), 64, 5);
  EXPECT_EQ(pool_->CapacityPages(PageClass::kStructure), 5u);
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    const uint64_t p = rng() % 64;
    auto h = pool_->Pin(G(p));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_TRUE(PayloadOk(*h, p));
    ASSERT_LE(pool_->ResidentPages(PageClass::kStructure), 5u);
  }
  const PoolStats s = pool_->Stats(PageClass::kStructure);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.reads, s.misses);
  EXPECT_EQ(s.reads - s.evictions, pool_->ResidentPages(PageClass::kStructure));
}

TEST_P(BufferPoolTest, BatchMissesAreOneSubmission) {
  Open(env_.get(), 32, 32);
  std::vector<PageRef> refs;
  for (uint64_t p = 0; p < 32; p += 2) refs.push_back(G(p));
  std::vector<PageHandle> handles;
  ASSERT_TRUE(pool_->PinBatch(refs, &handles).ok());
  ASSERT_EQ(handles.size(), refs.size());
  for (size_t i = 0; i < refs.size(); ++i) EXPECT_TRUE(PayloadOk(handles[i], refs[i].page.value));
  const PoolStats s = pool_->Stats(PageClass::kStructure);
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.reads, 16u);
}

TEST_P(BufferPoolTest, HotPageSurvivesAScanOfOneOffPages) {
  Open(env_.get(), 200, 8);
  for (uint64_t p = 1; p < 200; ++p) {
    ASSERT_TRUE(pool_->Pin(G(0)).ok());  // the entry point every walk revisits
    ASSERT_TRUE(pool_->Pin(G(p)).ok());  // one-off pages
  }
  // Page 0 was read once: every later pin of it was a hit.
  EXPECT_EQ(pool_->Stats(PageClass::kStructure).hits, 198u);
}

TEST_P(BufferPoolTest, BudgetBelowOnePageIsRefused) {
  BufferPoolOptions o;
  o.budget_bytes = {kPage - 1, kPage};
  auto pool = BufferPool::Create(o);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("below one 4096-byte page"), std::string::npos);
  o.page_size = 3000;
  EXPECT_FALSE(BufferPool::Create(o).ok());
}

TEST_P(BufferPoolTest, AllFramesPinnedIsResourceExhaustedUntilOneIsReleased) {
  Open(env_.get(), 8, 2, std::chrono::milliseconds(50));
  auto a = pool_->Pin(G(0));
  auto b = pool_->Pin(G(1));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = pool_->Pin(G(2));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
  a->Release();
  auto d = pool_->Pin(G(2));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(PayloadOk(*d, 2));
}

TEST_P(BufferPoolTest, ReadErrorsReachTheCallerAndALaterPinRetries) {
  FaultEnv fault(env_.get());
  Open(&fault, 8, 4);
  fault.FailReads("graph");
  auto h = pool_->Pin(G(3));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kIOError);
  EXPECT_NE(h.status().message().find("graph"), std::string::npos) << h.status().ToString();
  EXPECT_EQ(pool_->ResidentPages(PageClass::kStructure), 0u);
  fault.ClearFaults();
  auto again = pool_->Pin(G(3));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(PayloadOk(*again, 3));
}

TEST_P(BufferPoolTest, FailedBatchPinsNothing) {
  FaultEnv fault(env_.get());
  Open(&fault, 8, 8);
  fault.FailReads("graph", 2);  // the third read of the batch fails
  std::vector<PageHandle> handles;
  std::vector<PageRef> refs = {G(0), G(1), G(2), G(3)};
  const Status s = pool_->PinBatch(refs, &handles);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_TRUE(handles.empty());
  fault.ClearFaults();
  // Nothing stays pinned: a pool of 8 frames can still pin 8 other pages at once.
  std::vector<PageRef> all;
  for (uint64_t p = 0; p < 8; ++p) all.push_back(G(p));
  ASSERT_TRUE(pool_->PinBatch(all, &handles).ok());
}

TEST_P(BufferPoolTest, ShortReadIsCorruption) {
  FaultEnv fault(env_.get());
  Open(&fault, 8, 4);
  fault.ShortenReads("graph", 1000);
  auto h = pool_->Pin(G(1));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kCorruption);
  EXPECT_NE(h.status().message().find("graph page 1: short read, 1000 of 4096 bytes"), std::string::npos)
      << h.status().ToString();
}

TEST_P(BufferPoolTest, TruncatedFileIsCorruption) {
  Open(env_.get(), 8, 4);
  auto w = env_->OpenFile(Path("graph"), OpenOptions{.write = true});
  ASSERT_TRUE((*w)->Truncate(5 * kPage + 100).ok());
  auto h = pool_->Pin(G(5));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("short read, 100 of 4096"), std::string::npos) << h.status().ToString();
  EXPECT_TRUE(pool_->Pin(G(4)).ok());
}

TEST_P(BufferPoolTest, MisdirectedPageIsCorruption) {
  Open(env_.get(), 8, 4);
  // Copy page 2 over page 6: a valid page in the wrong place.
  std::vector<uint8_t> buf(kPage);
  size_t got;
  auto w = env_->OpenFile(Path("graph"), OpenOptions{.write = true});
  ASSERT_TRUE((*w)->Read(2 * kPage, kPage, buf.data(), &got).ok());
  ASSERT_TRUE((*w)->Write(6 * kPage, buf.data(), kPage).ok());
  auto h = pool_->Pin(G(6));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("page 6: holds page 2"), std::string::npos) << h.status().ToString();
}

// Page 3 of another file of the same type, at the same place: its number,
// type and checksum are right, its binding is not.
TEST_P(BufferPoolTest, APageOfAnotherFileIsCorruption) {
  Open(env_.get(), 8, 4);
  std::vector<uint8_t> buf(kPage);
  for (size_t i = kPageHeaderSize; i < kPage; ++i) buf[i] = PayloadByte(3, i);
  SealPage(buf.data(), kPage, PageType::kGraph, PageNo{3}, kGraphBinding + 1);
  auto w = env_->OpenFile(Path("graph"), OpenOptions{.write = true});
  ASSERT_TRUE((*w)->Write(3 * kPage, buf.data(), kPage).ok());
  auto h = pool_->Pin(G(3));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kCorruption);
  EXPECT_NE(h.status().message().find("page 3: belongs to another file or index"), std::string::npos)
      << h.status().ToString();
  EXPECT_TRUE(pool_->Pin(G(4)).ok());
}

TEST_P(BufferPoolTest, ReadLatencyHistogramCountsEveryRead) {
  FaultEnv fault(env_.get());
  Open(&fault, 8, 8);
  fault.SetReadLatency(std::chrono::milliseconds(3));
  for (uint64_t p = 0; p < 4; ++p) ASSERT_TRUE(pool_->Pin(G(p)).ok());
  const PoolStats s = pool_->Stats(PageClass::kStructure);
  uint64_t counted = 0;
  for (uint64_t c : s.read_latency_us_log2) counted += c;
  EXPECT_EQ(counted, s.reads);
  // Each read slept 3 ms: the median lies in [2048, 4096) us, reported as 4096.
  EXPECT_GE(s.LatencyQuantileUs(0.5), 3000.0);
  EXPECT_LE(s.LatencyQuantileUs(0.5), 8192.0);
}

TEST_P(BufferPoolTest, ConcurrentMissesOfOnePageShareOneRead) {
  FaultEnv fault(env_.get());
  Open(&fault, 8, 4);
  fault.SetReadLatency(std::chrono::milliseconds(30));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      auto h = pool_->Pin(G(5));
      if (h.ok() && PayloadOk(*h, 5)) ++ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(pool_->Stats(PageClass::kStructure).reads, 1u);
  EXPECT_EQ(fault.ReadCount("graph"), 1u);
}

// 8 threads pin random shared pages through a pool of 4 frames: every pin
// must succeed (threads hold one pin at a time, so a frame always frees up),
// every page must hold its own content, and the budget must hold throughout.
TEST_P(BufferPoolTest, ConcurrentStressWithAFewFrames) {
  Open(env_.get(), 64, 4);
  std::atomic<int> errors{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 400; ++i) {
        const uint64_t p = rng() % 16;
        auto h = pool_->Pin(G(p));
        if (!h.ok()) {
          ++errors;
          continue;
        }
        wrong += !PayloadOk(*h, p);
        if (pool_->ResidentPages(PageClass::kStructure) > 4) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  const PoolStats s = pool_->Stats(PageClass::kStructure);
  EXPECT_EQ(s.hits + s.misses, 8u * 400);
  EXPECT_LE(s.reads, s.misses);
}

// Batches from 8 threads (the beam of concurrent graph walks) over a pool
// with room for every thread's batch: all succeed with the right content.
TEST_P(BufferPoolTest, ConcurrentBatches) {
  Open(env_.get(), 64, 8 * 3);
  std::atomic<int> errors{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; i < 200; ++i) {
        std::vector<PageRef> refs = {G(rng() % 48), G(rng() % 48), G(rng() % 48)};
        std::vector<PageHandle> hs;
        if (!pool_->PinBatch(refs, &hs).ok()) {
          ++errors;
          continue;
        }
        for (size_t k = 0; k < refs.size(); ++k) wrong += !PayloadOk(hs[k], refs[k].page.value);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

VX_INSTANTIATE_ENV_TEST(BufferPoolTest);

// Corruption in a real page file on disk (flipped bytes), through the pool.
// A budget that cannot be allocated is ResourceExhausted naming the class
// and the figure, never an abort.
TEST(BufferPoolMemory, AnUnallocatableBudgetIsResourceExhausted) {
  BufferPoolOptions o;
  o.budget_bytes = {uint64_t{1} << 20, uint64_t{1} << 55};  // 32 PiB: beyond any address space
  auto pool = BufferPool::Create(o);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(pool.status().message().find("buffer pool: vector pages: "), std::string::npos) << pool.status().ToString();
  EXPECT_NE(pool.status().message().find("MB"), std::string::npos) << pool.status().ToString();
}

TEST(BufferPoolCorruption, FlippedBytesInARealFile) {
  testing::TempDir dir;
  auto env = NewPosixEnv(IoBackend::kAuto);
  ASSERT_TRUE(env.ok());
  const std::string path = dir / "graph";
  ASSERT_TRUE(WritePagedFile(env->get(), path, 10, PageType::kGraph).ok());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(7 * kPage + 1234);
    f.put('\x5A');
  }
  auto file = (*env)->OpenFile(path, OpenOptions{.direct = true});
  BufferPoolOptions o;
  o.budget_bytes = {16 * kPage, kPage};
  auto pool = BufferPool::Create(o);
  const FileId id = *(*pool)->AddFile(file->get(), PageClass::kStructure, PageType::kGraph, kGraphBinding);
  for (uint64_t p = 0; p < 10; ++p) {
    auto h = (*pool)->Pin(PageRef{id, PageNo{p}});
    if (p == 7) {
      ASSERT_FALSE(h.ok());
      EXPECT_EQ(h.status().code(), StatusCode::kCorruption);
      EXPECT_NE(h.status().message().find(path + " page 7: checksum mismatch"), std::string::npos)
          << h.status().ToString();
    } else {
      ASSERT_TRUE(h.ok()) << p << ": " << h.status().ToString();
      EXPECT_TRUE(PayloadOk(*h, p));
    }
  }
}

}  // namespace
}  // namespace vx
