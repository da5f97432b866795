// The two paged files of an opened index, behind one buffer pool: the
// structure file (HNSW graph pages, IVF list pages; the pool's graph class)
// and the vectors file (vector class). Both index types pin through it, so
// the per-query page and read counters are kept in one place.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/buffer_pool.h"
#include "io/env.h"
#include "io/paged_file.h"
#include "io/vector_file.h"
#include "vx/index.h"

namespace vx {

inline constexpr uint32_t kMaxSearchers = 4096;

// One paged file of an index: where it is, the type of its pages after page
// 0, and the binding its pages carry (io/page.h).
struct PagedFileRef {
  std::string path;
  PageType type;
  uint64_t binding;
};

class IndexPages {
 public:
  // Opens the two files with O_DIRECT, and a pool of page size `page_size`
  // with the budgets of `o`, each cut to its file's size and at least one
  // page. ResourceExhausted, with the budget needed, when a class smaller
  // than its file cannot give o.max_searchers + 1 users a page each, or its
  // memory cannot be allocated.
  static Result<std::unique_ptr<IndexPages>> Open(Env* env, const PagedFileRef& structure, const PagedFileRef& vectors,
                                                  size_t page_size, const IndexOptions& o);

  size_t CapacityPages(PageClass c) const { return pool_->CapacityPages(c); }
  // Page 0 of the class's file, read past the pool and checked (page
  // header, magic): what the file records about itself.
  Result<PagedFileHeader> ReadFileHeader(PageClass c) const;
  // The most pages of class `c` one search may hold pinned at once: the
  // whole class when it holds its whole file (then a free frame always
  // exists), else its share among max_searchers + 1 users.
  size_t SharePages(PageClass c) const { return share_[static_cast<size_t>(c)]; }

  // Pins structure pages `refs` (page numbers of the structure file) into
  // *out as one batch; counts into stats->graph_*, round_trips.
  Status PinStructure(std::span<const PageRef> refs, std::vector<PageHandle>* out, SearchStats* stats) const;
  PageRef StructurePage(uint64_t page) const { return PageRef{structure_id_, PageNo{page}}; }

  // Reads structure pages 1 (after the file header) to file_pages - 1 into
  // the pool, as many as its structure class holds, in batches of up to 256
  // pages and a search's share of the class (one round trip each). Returns
  // the pages pinned.
  Result<uint64_t> PrewarmStructure(uint64_t file_pages) const;

  // Calls fn(row, stored bytes) for each row of `slots` (sorted here, in place;
  // duplicates allowed), pinning vector pages in page order in chunks of a
  // share of the vector pool (usually one chunk: one round trip). Counts
  // into stats->vector_*, round_trips.
  template <class Fn>
  Status VisitVectors(const VectorLayout& layout, std::span<uint32_t> slots, std::vector<PageRef>& refs,
                      std::vector<PageHandle>& pages, SearchStats* stats, Fn&& fn) const {
    std::sort(slots.begin(), slots.end());
    const size_t chunk = SharePages(PageClass::kVector);
    for (size_t begin = 0; begin < slots.size();) {
      refs.clear();
      size_t end = begin;
      for (; end < slots.size(); ++end) {
        const PageRef r{vector_id_, PageNo{layout.Page(slots[end])}};
        if (refs.empty() || !(refs.back().page == r.page)) {
          if (refs.size() == chunk) break;
          refs.push_back(r);
        }
      }
      VX_RETURN_IF_ERROR(Pin(refs, &pages, &stats->vector_pages, &stats->vector_reads, stats));
      size_t idx = 0;
      for (size_t i = begin; i < end; ++i) {
        const uint64_t page = layout.Page(slots[i]);
        while (refs[idx].page.value != page) ++idx;
        fn(slots[i], pages[idx].data() + layout.Offset(slots[i]));
      }
      pages.clear();
      begin = end;
    }
    return Status::Ok();
  }

 private:
  IndexPages() = default;
  Status Pin(std::span<const PageRef> refs, std::vector<PageHandle>* out, uint64_t* pages, uint64_t* reads,
             SearchStats* stats) const;

  std::unique_ptr<File> structure_file_, vector_file_;
  uint64_t bindings_[kNumPageClasses] = {};
  std::unique_ptr<BufferPool> pool_;
  FileId structure_id_{}, vector_id_{};
  std::array<size_t, kNumPageClasses> share_{};
  size_t page_size_ = 0;
};

}  // namespace vx
