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

Result<std::unique_ptr<Index>> HnswIndex::Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
  return IndexBase::Open(std::unique_ptr<IndexBase>(new HnswIndex()), dir, m, o, kType, kFormat);
}

}  // namespace vx::hnsw
