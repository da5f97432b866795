#include "index/index_pages.h"

namespace vx {

Result<std::unique_ptr<IndexPages>> IndexPages::Open(Env* env, const std::string& structure_path,
                                                     const std::string& vectors_path, PageType structure_type,
                                                     size_t page_size, const IndexOptions& o) {
  std::unique_ptr<IndexPages> x(new IndexPages());
  VX_ASSIGN_OR_RETURN(x->structure_file_, env->OpenFile(structure_path, OpenOptions{.direct = true}));
  VX_ASSIGN_OR_RETURN(x->vector_file_, env->OpenFile(vectors_path, OpenOptions{.direct = true}));
  BufferPoolOptions po;
  po.page_size = page_size;
  po.budget_bytes = {std::max<uint64_t>(o.structure_cache_bytes, page_size),
                     std::max<uint64_t>(o.vector_cache_bytes, page_size)};
  VX_ASSIGN_OR_RETURN(x->pool_, BufferPool::Create(po));
  VX_ASSIGN_OR_RETURN(x->structure_id_,
                      x->pool_->AddFile(x->structure_file_.get(), PageClass::kStructure, structure_type));
  VX_ASSIGN_OR_RETURN(x->vector_id_, x->pool_->AddFile(x->vector_file_.get(), PageClass::kVector, PageType::kVector));
  return x;
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
  // A quarter of the pool at most, so that searches running alongside still
  // find frames to pin.
  const size_t batch = std::clamp<size_t>(capacity / 4, 1, 256);
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
