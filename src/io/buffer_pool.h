// The buffer pool: caches fixed-size pages of index files in RAM, with a
// separate byte budget per page class (graph pages, vector pages), so that
// one-off rerank reads never push out the graph a search walks.
//
// Invariants (see buffer_pool.cc for how they are kept):
//   * Each class owns a fixed array of frames sized to its budget at
//     creation; the pool never allocates page memory after that, so it can
//     never hold more than its budget. The frames' memory is mapped, not
//     touched (AlignedBuffer): RAM is taken as frames first fill, so a
//     budget larger than the pages ever read costs only address space.
//   * A page is in at most one frame, and at most one read of it is in
//     flight: a thread that misses a page another thread is reading waits for
//     that read instead of issuing its own.
//   * A pinned frame is never evicted. Pins are RAII PageHandles.
//   * A page is handed out only after its header and checksum verify; a
//     failed read or check is returned to every waiter as a Status and the
//     page is dropped, so a later pin retries the read.
//
// Eviction is CLOCK with second chance given only on re-reference: a page
// enters with its reference bit clear, and a hit sets it. A page read once
// (a rerank vector, a list scanned once) is thus the first to go, while the
// graph pages a walk keeps returning to (the entry region, hubs) survive
// sweeps. CLOCK needs no list manipulation on a hit (one relaxed store),
// which keeps the hit path short and free of global locks.
//
// Thread-safe: any number of threads may pin and unpin concurrently.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/flat_map.h"
#include "io/env.h"
#include "io/page.h"

namespace vx {

enum class PageClass : uint8_t { kStructure = 0, kVector = 1 };
inline constexpr size_t kNumPageClasses = 2;
const char* PageClassName(PageClass c);

struct FileId {
  uint16_t value;
};

struct PageRef {
  FileId file;
  PageNo page;
};

// What one PinBatch call did (for per-query I/O accounting).
struct PinStats {
  uint64_t pages = 0;        // pages pinned
  uint64_t reads = 0;        // pages this call read from the file
  uint64_t round_trips = 0;  // read submissions this call waited on (0 or 1 per file)
};

struct BufferPoolOptions {
  size_t page_size = kDefaultPageSize;
  // Bytes of page memory per class, indexed by PageClass. Each must hold at
  // least one page.
  std::array<uint64_t, kNumPageClasses> budget_bytes{};
  // How long a pin waits for a frame when every frame of its class is pinned
  // before failing with ResourceExhausted.
  std::chrono::milliseconds frame_wait{2000};
};

// Counters of one page class. Latency buckets: bucket i counts reads that
// took [2^i, 2^(i+1)) microseconds (bucket 0 also takes < 1 us).
struct PoolStats {
  uint64_t hits = 0;    // pins served from a resident page
  uint64_t misses = 0;  // pins that found no ready page
  uint64_t reads = 0;   // page reads issued (misses that shared a read issue none)
  uint64_t bytes_read = 0;
  uint64_t evictions = 0;
  uint64_t batches = 0;  // read submissions (round trips)
  std::array<uint64_t, 24> read_latency_us_log2{};
  double HitRatio() const { return hits + misses ? double(hits) / double(hits + misses) : 0.0; }
  // Latency quantile (0..1) in microseconds, from the histogram (bucket upper bound).
  double LatencyQuantileUs(double q) const;
};

class BufferPool;

// A pinned page. Movable, not copyable; unpins on destruction.
class PageHandle {
 public:
  PageHandle() = default;
  PageHandle(PageHandle&& o) noexcept : frame_(o.frame_), data_(o.data_) { o.frame_ = nullptr; }
  PageHandle& operator=(PageHandle&& o) noexcept;
  PageHandle(const PageHandle&) = delete;
  PageHandle& operator=(const PageHandle&) = delete;
  ~PageHandle() { Release(); }

  bool valid() const { return frame_ != nullptr; }
  const uint8_t* data() const { return data_; }  // the whole page, header included
  const uint8_t* payload() const { return data_ + kPageHeaderSize; }
  void Release();

 private:
  friend class BufferPool;
  PageHandle(void* frame, const uint8_t* data) : frame_(frame), data_(data) {}
  void* frame_ = nullptr;
  const uint8_t* data_ = nullptr;
};

class BufferPool {
 public:
  // InvalidArgument for a class budget below one page; ResourceExhausted,
  // with the figures, when a class's frames cannot be allocated.
  static Result<std::unique_ptr<BufferPool>> Create(const BufferPoolOptions& options);
  ~BufferPool();

  // Registers a file of pages of `type` sealed with `binding` (io/page.h) in
  // `cls`. The file must outlive every pin of its pages. Not thread-safe
  // against concurrent pins: register files before searching.
  Result<FileId> AddFile(File* file, PageClass cls, PageType type, uint64_t binding);

  Result<PageHandle> Pin(PageRef page);
  // Pins every page; the misses are read as one batch per file, in parallel
  // with waiting for pages other threads are reading. All or nothing: on any
  // error no page stays pinned and the first error is returned.
  Status PinBatch(std::span<const PageRef> pages, std::vector<PageHandle>* out, PinStats* stats = nullptr);

  PoolStats Stats(PageClass cls) const;
  size_t CapacityPages(PageClass cls) const;
  size_t ResidentPages(PageClass cls) const;  // frames holding a verified page
  size_t page_size() const { return options_.page_size; }

 private:
  friend class PageHandle;
  struct Frame;
  struct ClassState;
  // Cache-line aligned so that threads on different shards share nothing.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    FlatMap<uint64_t, Frame*> map;                 // page key -> frame
    std::array<uint64_t, kNumPageClasses> hits{};  // under mu: no shared counter on the hit path
  };
  struct FileEntry {
    File* file;
    PageClass cls;
    PageType type;
    uint64_t binding;
  };
  static constexpr size_t kShards = 64;

  explicit BufferPool(const BufferPoolOptions& options);
  static uint64_t Key(PageRef p) { return (uint64_t{p.file.value} << 48) | p.page.value; }
  Shard& ShardOf(uint64_t key) { return shards_[(key * 0x9E3779B97F4A7C15ull) >> 58]; }
  // Pins `ref` if it is resident and ready; the hit path. Null otherwise.
  Frame* TryPinResident(PageRef ref);
  // Claims a frame of `cls` for exclusive loading, evicting if needed.
  Result<Frame*> ClaimFrame(ClassState& cls);
  // Returns the number of read submissions (one per file).
  uint64_t ReadAndPublish(std::span<Frame*> frames, std::span<const PageRef> refs);

  BufferPoolOptions options_;
  std::vector<FileEntry> files_;
  std::array<std::unique_ptr<ClassState>, kNumPageClasses> classes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace vx
