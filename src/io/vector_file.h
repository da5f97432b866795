// The vectors file, shared by every index type: full-precision vectors (f32
// or f16) on vector pages, page 0 a PagedFileHeader, then `per_page` vectors
// a page. Slot i is the i-th vector written.
//
// VectorFileWriter streams rows in; ForEachStoredVector pins the pages of a
// set of slots through the buffer pool in page order, in chunks (each chunk's
// misses are one batch), and hands each slot's stored bytes to a callback:
// the rerank step of a search.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/buffer_pool.h"
#include "io/paged_file.h"
#include "vx/types.h"

namespace vx {

struct VectorLayout {
  size_t page_size = 0;
  uint32_t dim = 0, vector_bytes = 0, per_page = 0;
  ElementType storage = ElementType::kF32;

  // The smallest page size >= `page_size` that holds one vector;
  // InvalidArgument if even a 64 KiB page does not.
  static Result<VectorLayout> Make(size_t page_size, uint32_t dim, ElementType storage);
  uint64_t Page(uint64_t slot) const { return 1 + slot / per_page; }
  size_t Offset(uint64_t slot) const { return kPageHeaderSize + size_t(slot % per_page) * vector_bytes; }
};

class VectorFileWriter {
 public:
  static Result<std::unique_ptr<VectorFileWriter>> Create(Env* env, const std::string& path,
                                                          const VectorLayout& layout, uint64_t count);
  // Appends n rows of dim floats, stored as layout.storage.
  Status Append(const float* rows, uint64_t n);
  // Flushes the last page and fsyncs; FailedPrecondition unless `count` rows came.
  Status Finish();

 private:
  VectorFileWriter(std::unique_ptr<File> f, const VectorLayout& l, uint64_t count)
      : file_(std::move(f)), layout_(l), count_(count), writer_(file_.get(), l.page_size, PageType::kVector) {}
  std::unique_ptr<File> file_;
  VectorLayout layout_;
  uint64_t count_, written_ = 0;
  PageWriter writer_;
};

// Reusable buffers for ForEachStoredVector (one per searching thread).
struct VectorVisitScratch {
  std::vector<uint64_t> slots;
  std::vector<PageRef> refs;
  std::vector<PageHandle> pages;
};

// Calls fn(slot, stored bytes) for each slot (any order, duplicates allowed),
// pinning pages in chunks of at most `chunk_pages`. Counts into *stats.
template <class Fn>
Status ForEachStoredVector(BufferPool& pool, FileId file, const VectorLayout& layout, std::span<const uint64_t> slots,
                           size_t chunk_pages, VectorVisitScratch& x, PinStats* stats, Fn&& fn) {
  x.slots.assign(slots.begin(), slots.end());
  std::sort(x.slots.begin(), x.slots.end());
  chunk_pages = std::max<size_t>(1, chunk_pages);
  for (size_t begin = 0; begin < x.slots.size();) {
    x.refs.clear();
    size_t end = begin;
    for (; end < x.slots.size(); ++end) {
      const PageRef r{file, PageNo{layout.Page(x.slots[end])}};
      if (x.refs.empty() || !(x.refs.back().page == r.page)) {
        if (x.refs.size() == chunk_pages) break;
        x.refs.push_back(r);
      }
    }
    PinStats ps;
    Status s = pool.PinBatch(x.refs, &x.pages, &ps);
    if (stats) {
      stats->pages += ps.pages;
      stats->reads += ps.reads;
      stats->round_trips += ps.round_trips;
    }
    VX_RETURN_IF_ERROR(s);
    size_t idx = 0;
    for (size_t i = begin; i < end; ++i) {
      const uint64_t page = layout.Page(x.slots[i]);
      while (x.refs[idx].page.value != page) ++idx;
      fn(x.slots[i], x.pages[idx].data() + layout.Offset(x.slots[i]));
    }
    x.pages.clear();
    begin = end;
  }
  return Status::Ok();
}

}  // namespace vx
