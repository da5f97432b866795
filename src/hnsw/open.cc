// Opening an HNSW index: the shared files (IndexBase), then the graph's
// parameters, its page map, the upper layers and the codes.
#include "hnsw/hnsw.h"
#include "hnsw/hnsw_index.h"

namespace vx::hnsw {

Result<std::unique_ptr<Index>> HnswIndex::Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
  std::unique_ptr<HnswIndex> x(new HnswIndex());
  VX_RETURN_IF_ERROR(x->OpenShared(dir, m, o, TypeFiles{"hnsw", kFormat, "graph", PageType::kGraph}));
  IndexInfo& info = x->info_;
  info.type = IndexType::kHnsw;
  VX_ASSIGN_OR_RETURN(x->hnsw_, HnswParams::FromManifest(m, dir, info.count));
  info.m = x->hnsw_.m;
  info.ef_construction = x->hnsw_.ef_construction;
  info.max_level = x->hnsw_.max_level;

  VX_ASSIGN_OR_RETURN(x->codes_, x->ReadResident("codes"));
  if (x->codes_.size() != info.count * x->quantizer_->code_size()) return Status::Corruption(x->FilePath("codes") + ": wrong size");
  VX_ASSIGN_OR_RETURN(const std::string first, x->ReadResident("graph_pages"));
  VX_ASSIGN_OR_RETURN(x->graph_map_,
                      GraphPageMap::Decode(first, info.count, info.structure_bytes, info.page_size, x->FilePath("graph_pages")));
  VX_ASSIGN_OR_RETURN(const std::string upper, x->ReadResident("upper"));
  VX_RETURN_IF_ERROR(x->upper_.Decode(upper, info.count, info.m, x->hnsw_.entry, info.max_level, x->FilePath("upper")));
  info.resident_bytes += x->codes_.size() + x->upper_.memory_bytes() + x->graph_map_.pages() * 4;
  return std::unique_ptr<Index>(std::move(x));
}

Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& manifest, const IndexOptions& options) {
  return HnswIndex::Open(dir, manifest, options);
}

}  // namespace vx::hnsw
