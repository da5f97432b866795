// Buffer pool implementation. How the invariants in buffer_pool.h are kept:
//
// 1. A frame's `state` is one atomic word: kFree, kLoading, kReady, kError.
//    Only the thread that moved a frame to kLoading (its loader) writes its
//    data, key and error; it publishes them with a release store of kReady or
//    kError and wakes waiters (atomic notify).
// 2. The page -> frame map is sharded; a frame is pinned only under its
//    shard's lock, and an evictor checks pins == 0 and moves kReady ->
//    kLoading under that same lock, so no pin can race with an eviction.
// 3. A loader inserts its key only after re-checking the map under the lock,
//    so two threads missing one page share one read (the second waits).
// 4. A failed load erases the map entry before publishing kError, so waiters
//    see the error and later pins retry the read. Frames in kError or kFree
//    are unmapped and reusable once their pins drop to 0 (no one can pin an
//    unmapped frame, so that count only falls).
#include "io/buffer_pool.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <new>
#include <thread>

#include "core/check.h"

namespace vx {

enum FrameState : uint32_t { kFree = 0, kLoading = 1, kReady = 2, kError = 3 };

struct alignas(64) BufferPool::Frame {  // one per cache line pair: no false sharing
  std::atomic<uint32_t> state{kFree};
  std::atomic<uint32_t> pins{0};
  std::atomic<bool> referenced{false};
  std::atomic<uint64_t> key{0};  // valid while mapped; atomic for evictors' unlocked peek
  Status error;                  // written by the loader before kError is published
  uint8_t* data = nullptr;
};

struct BufferPool::ClassState {
  size_t num_frames = 0;
  AlignedBuffer memory;
  std::unique_ptr<Frame[]> frames;
  std::atomic<size_t> hand{0};
  std::atomic<uint64_t> misses{0}, reads{0}, bytes_read{0}, evictions{0}, batches{0};
  std::array<std::atomic<uint64_t>, 24> latency{};
};

const char* PageClassName(PageClass c) { return c == PageClass::kStructure ? "structure" : "vector"; }

double PoolStats::LatencyQuantileUs(double q) const {
  uint64_t total = 0;
  for (uint64_t c : read_latency_us_log2) total += c;
  if (total == 0) return 0;
  const auto target = static_cast<uint64_t>(q * static_cast<double>(total - 1));
  uint64_t seen = 0;
  for (size_t i = 0; i < read_latency_us_log2.size(); ++i) {
    seen += read_latency_us_log2[i];
    if (seen > target) return static_cast<double>(uint64_t{2} << i);
  }
  return static_cast<double>(uint64_t{1} << read_latency_us_log2.size());
}

PageHandle& PageHandle::operator=(PageHandle&& o) noexcept {
  if (this != &o) {
    Release();
    frame_ = o.frame_;
    data_ = o.data_;
    o.frame_ = nullptr;
  }
  return *this;
}

void PageHandle::Release() {
  if (frame_ != nullptr) {
    static_cast<BufferPool::Frame*>(frame_)->pins.fetch_sub(1, std::memory_order_release);
    frame_ = nullptr;
  }
}

BufferPool::BufferPool(const BufferPoolOptions& options) : options_(options) {}
BufferPool::~BufferPool() = default;

Result<std::unique_ptr<BufferPool>> BufferPool::Create(const BufferPoolOptions& options) {
  VX_RETURN_IF_ERROR(ValidatePageSize(options.page_size));
  std::unique_ptr<BufferPool> pool(new BufferPool(options));
  for (size_t c = 0; c < kNumPageClasses; ++c) {
    const uint64_t n = options.budget_bytes[c] / options.page_size;
    if (n == 0) {
      return Status::InvalidArgument(std::string("buffer pool budget for ") + PageClassName(static_cast<PageClass>(c)) +
                                     " pages (" + std::to_string(options.budget_bytes[c]) + " bytes) is below one " +
                                     std::to_string(options.page_size) + "-byte page");
    }
    auto cls = std::make_unique<ClassState>();
    cls->num_frames = n;
    const std::string what = std::string("buffer pool: ") + PageClassName(static_cast<PageClass>(c)) + " pages: ";
    if (n > (SIZE_MAX / 2) / options.page_size) {
      return Status::ResourceExhausted(what + "a budget of " + std::to_string(options.budget_bytes[c] >> 20) +
                                       " MB cannot be addressed");
    }
    auto memory = AlignedBuffer::Allocate(n * options.page_size);
    if (!memory.ok()) return Status::ResourceExhausted(what + memory.status().message());
    cls->memory = std::move(*memory);
    cls->frames.reset(new (std::nothrow) Frame[n]);
    if (cls->frames == nullptr) {
      return Status::ResourceExhausted(what + "cannot allocate the descriptors of " + std::to_string(n) + " frames (" +
                                       std::to_string((n * sizeof(Frame)) >> 20) + " MB)");
    }
    for (size_t i = 0; i < n; ++i) cls->frames[i].data = cls->memory.data() + i * options.page_size;
    pool->classes_[c] = std::move(cls);
  }
  return pool;
}

Result<FileId> BufferPool::AddFile(File* file, PageClass cls, PageType type, uint64_t binding) {
  if (files_.size() >= 0xFFFF) return Status::ResourceExhausted("buffer pool: too many files");
  files_.push_back({file, cls, type, binding});
  return FileId{static_cast<uint16_t>(files_.size() - 1)};
}

Result<BufferPool::Frame*> BufferPool::ClaimFrame(ClassState& cls) {
  const auto deadline = std::chrono::steady_clock::now() + options_.frame_wait;
  while (true) {
    // Two sweeps: the first may only clear reference bits.
    for (size_t step = 0; step < 2 * cls.num_frames + 1; ++step) {
      Frame& f = cls.frames[cls.hand.fetch_add(1, std::memory_order_relaxed) % cls.num_frames];
      if (f.pins.load(std::memory_order_acquire) != 0) continue;
      uint32_t st = f.state.load(std::memory_order_acquire);
      if (st == kFree || st == kError) {
        if (f.state.compare_exchange_strong(st, kLoading, std::memory_order_acq_rel)) return &f;
        continue;
      }
      if (st != kReady) continue;
      if (f.referenced.exchange(false, std::memory_order_relaxed)) continue;  // second chance
      const uint64_t key = f.key.load(std::memory_order_relaxed);
      Shard& shard = ShardOf(key);
      std::lock_guard lock(shard.mu);
      if (f.key.load(std::memory_order_relaxed) != key || f.pins.load(std::memory_order_acquire) != 0) continue;
      if (!f.state.compare_exchange_strong(st, kLoading, std::memory_order_acq_rel)) continue;
      shard.map.Erase(key);
      cls.evictions.fetch_add(1, std::memory_order_relaxed);
      return &f;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::ResourceExhausted("buffer pool: all " + std::to_string(cls.num_frames) +
                                       " frames of the class are pinned; raise its budget");
    }
    std::this_thread::yield();
  }
}

BufferPool::Frame* BufferPool::TryPinResident(PageRef ref) {
  const uint64_t key = Key(ref);
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  Frame** found = shard.map.Find(key);
  if (found == nullptr || (*found)->state.load(std::memory_order_acquire) != kReady) return nullptr;
  Frame* f = *found;
  f->pins.fetch_add(1, std::memory_order_acquire);
  f->referenced.store(true, std::memory_order_relaxed);
  ++shard.hits[static_cast<size_t>(files_[ref.file.value].cls)];
  return f;
}

Result<PageHandle> BufferPool::Pin(PageRef page) {
  if (page.file.value < files_.size()) {
    if (Frame* f = TryPinResident(page)) return PageHandle(f, f->data);
  }
  std::vector<PageHandle> out;
  VX_RETURN_IF_ERROR(PinBatch(std::span<const PageRef>(&page, 1), &out));
  return std::move(out[0]);
}

uint64_t BufferPool::ReadAndPublish(std::span<Frame*> frames, std::span<const PageRef> refs) {
  uint64_t submissions = 0;
  const size_t ps = options_.page_size;
  // One batch per file (a search's misses of one step are usually one file).
  std::vector<size_t> order(frames.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return refs[a].file.value < refs[b].file.value; });
  std::vector<ReadRequest> requests;
  for (size_t begin = 0; begin < order.size();) {
    const uint16_t fid = refs[order[begin]].file.value;
    size_t end = begin;
    while (end < order.size() && refs[order[end]].file.value == fid) ++end;
    const FileEntry& fe = files_[fid];
    ClassState& cls = *classes_[static_cast<size_t>(fe.cls)];
    requests.clear();
    for (size_t i = begin; i < end; ++i) {
      requests.push_back(ReadRequest{refs[order[i]].page.value * ps, ps, frames[order[i]]->data, 0, Status::Ok()});
    }
    const auto t0 = std::chrono::steady_clock::now();
    fe.file->ReadBatch(requests);
    ++submissions;
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    const size_t bucket = std::min<size_t>(us <= 1 ? 0 : std::bit_width(static_cast<uint64_t>(us)) - 1, 23);
    cls.batches.fetch_add(1, std::memory_order_relaxed);
    cls.latency[bucket].fetch_add(end - begin, std::memory_order_relaxed);
    for (size_t i = begin; i < end; ++i) {
      const size_t k = order[i];
      Frame& f = *frames[k];
      const ReadRequest& r = requests[i - begin];
      cls.reads.fetch_add(1, std::memory_order_relaxed);
      cls.bytes_read.fetch_add(r.bytes_read, std::memory_order_relaxed);
      Status s = r.status;
      if (s.ok() && r.bytes_read < ps) {
        s = Status::Corruption(fe.file->path() + " page " + std::to_string(refs[k].page.value) + ": short read, " +
                               std::to_string(r.bytes_read) + " of " + std::to_string(ps) + " bytes (file truncated?)");
      }
      if (s.ok()) s = VerifyPage(f.data, ps, fe.type, refs[k].page, fe.binding, fe.file->path());
      if (s.ok()) {
        f.state.store(kReady, std::memory_order_release);
      } else {
        {
          Shard& shard = ShardOf(Key(refs[k]));
          std::lock_guard lock(shard.mu);
          shard.map.Erase(Key(refs[k]));
        }
        f.error = std::move(s);
        f.state.store(kError, std::memory_order_release);
      }
      f.state.notify_all();
    }
    begin = end;
  }
  return submissions;
}

// Over 80 lines: the pin protocol (hit, shared read, claim, load, wait) and
// its all-or-nothing unwinding are kept in one place, where the invariants
// at the top of this file can be checked against them.
Status BufferPool::PinBatch(std::span<const PageRef> pages, std::vector<PageHandle>* out, PinStats* stats) {
  // Handles go straight into the caller's vector (reused across calls, so a
  // batch of hits allocates nothing); destroying them releases the pins.
  out->clear();
  out->reserve(pages.size());
  std::vector<Frame*> loading;  // frames this call loads (allocated only on a miss)
  std::vector<PageRef> loading_refs;
  Status status;

  for (const PageRef& ref : pages) {
    if (ref.file.value >= files_.size()) {
      status = Status::InvalidArgument("buffer pool: unknown file id " + std::to_string(ref.file.value));
      break;
    }
    const size_t class_index = static_cast<size_t>(files_[ref.file.value].cls);
    ClassState& cls = *classes_[class_index];
    const uint64_t key = Key(ref);
    Shard& shard = ShardOf(key);
    Frame* frame = nullptr;
    {
      std::lock_guard lock(shard.mu);
      if (Frame** found = shard.map.Find(key)) {
        frame = *found;
        frame->pins.fetch_add(1, std::memory_order_acquire);
        if (frame->state.load(std::memory_order_acquire) == kReady)
          ++shard.hits[class_index];
        else
          cls.misses.fetch_add(1, std::memory_order_relaxed);  // waits for an in-flight read
      }
    }
    if (frame != nullptr) {
      frame->referenced.store(true, std::memory_order_relaxed);
      out->push_back(PageHandle(frame, frame->data));
      continue;
    }
    // Miss: claim a frame without holding the shard lock, then re-check.
    cls.misses.fetch_add(1, std::memory_order_relaxed);
    Result<Frame*> claimed = ClaimFrame(cls);
    if (!claimed.ok()) {
      status = claimed.status();
      break;
    }
    Frame* mine = *claimed;
    {
      std::lock_guard lock(shard.mu);
      if (Frame** found = shard.map.Find(key)) {
        frame = *found;  // another thread got there first: share its read
        frame->pins.fetch_add(1, std::memory_order_acquire);
      } else {
        mine->key.store(key, std::memory_order_relaxed);
        mine->referenced.store(false, std::memory_order_relaxed);
        mine->pins.store(1, std::memory_order_relaxed);
        shard.map.Insert(key, mine);
      }
    }
    if (frame != nullptr) {
      mine->state.store(kFree, std::memory_order_release);
      out->push_back(PageHandle(frame, frame->data));
    } else {
      out->push_back(PageHandle(mine, mine->data));
      loading.push_back(mine);
      loading_refs.push_back(ref);
    }
  }

  // Read this call's misses even if a later page failed: other threads may be
  // waiting on these frames.
  if (!loading.empty()) {
    const uint64_t trips = ReadAndPublish(loading, loading_refs);
    if (stats) {
      stats->reads += loading.size();
      stats->round_trips += trips;
    }
  }
  if (status.ok()) {
    for (const PageHandle& h : *out) {
      Frame* f = static_cast<Frame*>(h.frame_);
      uint32_t st = f->state.load(std::memory_order_acquire);
      while (st == kLoading) {
        f->state.wait(kLoading, std::memory_order_acquire);
        st = f->state.load(std::memory_order_acquire);
      }
      if (st == kError) {
        status = f->error;
        break;
      }
    }
  }
  if (!status.ok()) {
    out->clear();  // releases every pin
    return status;
  }
  if (stats) stats->pages += out->size();
  return Status::Ok();
}

PoolStats BufferPool::Stats(PageClass c) const {
  const ClassState& cls = *classes_[static_cast<size_t>(c)];
  PoolStats s;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    s.hits += shard.hits[static_cast<size_t>(c)];
  }
  s.misses = cls.misses.load();
  s.reads = cls.reads.load();
  s.bytes_read = cls.bytes_read.load();
  s.evictions = cls.evictions.load();
  s.batches = cls.batches.load();
  for (size_t i = 0; i < s.read_latency_us_log2.size(); ++i) s.read_latency_us_log2[i] = cls.latency[i].load();
  return s;
}

size_t BufferPool::CapacityPages(PageClass c) const { return classes_[static_cast<size_t>(c)]->num_frames; }

size_t BufferPool::ResidentPages(PageClass c) const {
  const ClassState& cls = *classes_[static_cast<size_t>(c)];
  size_t n = 0;
  for (size_t i = 0; i < cls.num_frames; ++i) n += cls.frames[i].state.load() == kReady;
  return n;
}

}  // namespace vx
