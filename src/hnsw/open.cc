// Opening an HNSW index: the shared files (IndexBase), then the graph's
// parameters, its page map, the upper layers and the codes.
#include "hnsw/hnsw.h"
#include "hnsw/hnsw_index.h"

namespace vx::hnsw {

Status HnswIndex::LoadTypeFiles(const Manifest& m) {
  VX_ASSIGN_OR_RETURN(hnsw_, HnswParams::FromManifest(m, dir_, info_.count));
  hnsw_.Describe(&info_);
  VX_ASSIGN_OR_RETURN(const PagedFileHeader h, StructureHeader());
  if (h.kind != static_cast<uint32_t>(PagedFileKind::kGraph) || h.count != info_.count) {
    return Status::Corruption(FilePath(kGraphFile) + ": its header says " + std::to_string(h.count) +
                              " nodes; the manifest says " + std::to_string(info_.count));
  }
  VX_ASSIGN_OR_RETURN(codes_, ReadResident("codes"));
  if (codes_.size() != info_.count * quantizer_->code_size())
    return Status::Corruption(FilePath("codes") + ": wrong size");
  VX_ASSIGN_OR_RETURN(const std::string first, ReadResident("graph_pages"));
  VX_ASSIGN_OR_RETURN(graph_map_, GraphPageMap::Decode(first, info_.count, info_.structure_bytes, info_.page_size,
                                                       FilePath("graph_pages")));
  VX_ASSIGN_OR_RETURN(const std::string upper, ReadResident("upper"));
  VX_RETURN_IF_ERROR(upper_.Decode(upper, info_.count, info_.m, hnsw_.entry, info_.max_level, FilePath("upper")));
  info_.resident_bytes += codes_.size() + upper_.memory_bytes() + graph_map_.pages() * 4;
  return Status::Ok();
}

Result<Graph> HnswIndex::LoadGraph() const {
  const uint32_t n = static_cast<uint32_t>(info_.count);
  std::vector<uint8_t> levels(n);
  for (uint32_t v = 0; v < n; ++v) levels[v] = static_cast<uint8_t>(upper_.Levels(v));
  Graph g(info_.m, hnsw_.entry, info_.max_level, std::move(levels));
  for (uint32_t v = 0; v < n; ++v) {
    for (uint32_t l = 1; l <= g.level(v); ++l) g.SetNeighbors(v, l, upper_.Neighbors(v, l));
  }
  const std::vector<uint32_t>& first = graph_map_.first_nodes();
  const size_t batch = std::min<size_t>(pages_->SharePages(PageClass::kStructure), 256);
  std::vector<PageRef> refs;
  std::vector<PageHandle> pinned;
  SearchStats stats;
  uint32_t ids[2 * kMaxM];
  for (size_t p0 = 0; p0 < first.size(); p0 += refs.size()) {
    refs.clear();
    for (size_t p = p0; p < first.size() && refs.size() < batch; ++p)
      refs.push_back(pages_->StructurePage(graph_map_.Page(first[p])));
    VX_RETURN_IF_ERROR(pages_->PinStructure(refs, &pinned, &stats));
    for (size_t i = 0; i < refs.size(); ++i) {
      const size_t p = p0 + i;
      const uint64_t page = refs[i].page.value;
      for (uint32_t v = first[p]; v < (p + 1 < first.size() ? first[p + 1] : n); ++v) {
        const uint8_t *rec, *end;
        uint32_t cnt;
        if (!graph_map_.Record(v, page, pinned[i].payload(), info_.page_size - kPageHeaderSize, &rec, &end) ||
            !DecodeNeighbors(v, rec, end, 2 * info_.m, n, ids, &cnt)) {
          return Status::Corruption(FilePath(kGraphFile) + " page " + std::to_string(page) + ": node " +
                                    std::to_string(v) + "'s neighbour record is malformed");
        }
        g.SetNeighbors(v, 0, {ids, cnt});
      }
    }
    pinned.clear();
  }
  return g;
}

Result<std::unique_ptr<Index>> HnswIndex::Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
  return IndexBase::Open(std::unique_ptr<IndexBase>(new HnswIndex()), dir, m, o, kType, kFormat);
}

}  // namespace vx::hnsw
