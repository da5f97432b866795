#include "index/index_pages.h"

#include <cstring>
#include <thread>

namespace vx {

Result<std::unique_ptr<IndexPages>> IndexPages::Open(Env* env, const PagedFileRef& structure,
                                                     const PagedFileRef& vectors, size_t page_size,
                                                     const IndexOptions& o) {
  std::unique_ptr<IndexPages> x(new IndexPages());
  VX_ASSIGN_OR_RETURN(x->structure_file_, env->OpenFile(structure.path, OpenOptions{.direct = true}));
  VX_ASSIGN_OR_RETURN(x->vector_file_, env->OpenFile(vectors.path, OpenOptions{.direct = true}));
  x->bindings_[static_cast<size_t>(PageClass::kStructure)] = structure.binding;
  x->bindings_[static_cast<size_t>(PageClass::kVector)] = vectors.binding;
  const uint32_t searchers = o.max_searchers ? o.max_searchers : std::max(1u, std::thread::hardware_concurrency());
  if (searchers > kMaxSearchers) {
    return Status::InvalidArgument("max_searchers must be in 1.." + std::to_string(kMaxSearchers) + ", not " +
                                   std::to_string(searchers));
  }
  File* files[kNumPageClasses] = {x->structure_file_.get(), x->vector_file_.get()};
  const uint64_t budgets[kNumPageClasses] = {o.structure_cache_bytes, o.vector_cache_bytes};
  BufferPoolOptions po;
  po.page_size = page_size;
  for (size_t c = 0; c < kNumPageClasses; ++c) {
    VX_ASSIGN_OR_RETURN(const uint64_t file_bytes, files[c]->Size());
    const uint64_t file_pages = std::max<uint64_t>(1, file_bytes / page_size);
    const uint64_t pages = std::clamp<uint64_t>(budgets[c] / page_size, 1, file_pages);
    po.budget_bytes[c] = pages * page_size;
    x->share_[c] = pages == file_pages ? pages : pages / (searchers + 1);
    if (x->share_[c] == 0) {
      return Status::ResourceExhausted(
          files[c]->path() + ": a pool of " + std::to_string(pages) + " " + PageClassName(static_cast<PageClass>(c)) +
          " pages (" + std::to_string(budgets[c] >> 10) + " KB) cannot give " + std::to_string(searchers) +
          " searches at once and a prewarm a page each; give this class at least " +
          std::to_string(((searchers + 1) * page_size + 1023) >> 10) + " KB, or open for fewer searchers");
    }
  }
  VX_ASSIGN_OR_RETURN(x->pool_, BufferPool::Create(po));
  x->page_size_ = page_size;
  VX_ASSIGN_OR_RETURN(x->structure_id_, x->pool_->AddFile(x->structure_file_.get(), PageClass::kStructure,
                                                          structure.type, structure.binding));
  VX_ASSIGN_OR_RETURN(x->vector_id_,
                      x->pool_->AddFile(x->vector_file_.get(), PageClass::kVector, vectors.type, vectors.binding));
  return x;
}

Result<PagedFileHeader> IndexPages::ReadFileHeader(PageClass c) const {
  File* f = c == PageClass::kStructure ? structure_file_.get() : vector_file_.get();
  AlignedBuffer page(page_size_);
  size_t got = 0;
  VX_RETURN_IF_ERROR(f->Read(0, page_size_, page.data(), &got));
  if (got != page_size_)
    return Status::Corruption(f->path() + " page 0: short read, " + std::to_string(got) + " bytes");
  VX_RETURN_IF_ERROR(VerifyPage(page.data(), page_size_, PageType::kFileHeader, PageNo{0},
                                bindings_[static_cast<size_t>(c)], f->path()));
  PagedFileHeader h;
  std::memcpy(&h, page.data() + kPageHeaderSize, sizeof h);
  if (h.magic != kFileHeaderMagic) return Status::Corruption(f->path() + " page 0: not a vx paged file header");
  return h;
}

Status IndexPages::Pin(std::span<const PageRef> refs, std::vector<PageHandle>* out, uint64_t* pages, uint64_t* reads,
                       SearchStats* stats) const {
  PinStats ps;
  Status s = pool_->PinBatch(refs, out, &ps);
  *pages += ps.pages;
  *reads += ps.reads;
  stats->round_trips += ps.round_trips;
  return s;
}

Result<uint64_t> IndexPages::PrewarmStructure(uint64_t file_pages) const {
  const size_t capacity = pool_->CapacityPages(PageClass::kStructure);
  const uint64_t end = std::min<uint64_t>(file_pages, 1 + capacity);
  // A search's share at most, so that searches running alongside still find
  // frames to pin.
  const size_t batch = std::min<size_t>(SharePages(PageClass::kStructure), 256);
  std::vector<PageRef> refs;
  std::vector<PageHandle> pinned;
  for (uint64_t first = 1; first < end; first += refs.size()) {
    refs.clear();
    for (uint64_t p = first; p < end && refs.size() < batch; ++p) refs.push_back(StructurePage(p));
    VX_RETURN_IF_ERROR(pool_->PinBatch(refs, &pinned));
    pinned.clear();
  }
  return end > 1 ? end - 1 : 0;
}

Status IndexPages::PinStructure(std::span<const PageRef> refs, std::vector<PageHandle>* out, SearchStats* stats) const {
  return Pin(refs, out, &stats->structure_pages, &stats->structure_reads, stats);
}

}  // namespace vx
