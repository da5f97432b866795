// Opening an IVF index: the shared files (IndexBase), then the list
// parameters, the centroids and the list directory, checked against the
// lists file.
#include <cstring>

#include "ivf/ivf.h"
#include "ivf/ivf_index.h"

namespace vx::ivf {

Result<std::unique_ptr<Index>> IvfIndex::Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
  std::unique_ptr<IvfIndex> x(new IvfIndex());
  VX_RETURN_IF_ERROR(x->OpenShared(dir, m, o, TypeFiles{"ivf", kFormat, "lists", PageType::kList}));
  IndexInfo& info = x->info_;
  info.type = IndexType::kIvf;
  VX_ASSIGN_OR_RETURN(x->ivf_, IvfParams::FromManifest(m, dir, info.count));
  const uint64_t lists = x->ivf_.lists, dim = info.dim, ps = info.page_size;
  info.lists = x->ivf_.lists;
  info.replicas = x->ivf_.replicas;
  info.entries = x->ivf_.entries;

  x->llayout_ = ListLayout::Make(ps, x->quantizer_->code_size());
  if (x->llayout_.per_page == 0) return Status::Corruption(x->FilePath(kQuantizerFile) + ": code larger than a list page");
  VX_ASSIGN_OR_RETURN(const std::string c, x->ReadResident("centroids"));
  if (c.size() != lists * dim * 4) return Status::Corruption(x->FilePath("centroids") + ": wrong size");
  x->centroids_.resize(lists * dim);
  std::memcpy(x->centroids_.data(), c.data(), c.size());
  VX_ASSIGN_OR_RETURN(const std::string d, x->ReadResident("directory"));
  if (d.size() != lists * sizeof(ListExtent)) return Status::Corruption(x->FilePath("directory") + ": wrong size");
  x->extents_.resize(lists);
  std::memcpy(x->extents_.data(), d.data(), d.size());
  const uint64_t file_pages = info.structure_bytes / ps;
  uint64_t total = 0;
  for (uint64_t l = 0; l < lists; ++l) {
    const ListExtent& e = x->extents_[l];
    if (e.first_page == 0 || e.first_page + e.pages > file_pages || e.pages != x->llayout_.PagesFor(e.count)) {
      return Status::Corruption(x->FilePath("directory") + ": list " + std::to_string(l) + " lies outside the lists file");
    }
    total += e.count;
  }
  if (total != info.entries) return Status::Corruption(x->FilePath("directory") + ": entries do not add up to the manifest's");
  info.resident_bytes += x->centroids_.size() * 4 + x->extents_.size() * sizeof(ListExtent);
  return std::unique_ptr<Index>(std::move(x));
}

Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& manifest, const IndexOptions& options) {
  return IvfIndex::Open(dir, manifest, options);
}

}  // namespace vx::ivf
