// Opening an IVF index: the shared files (IndexBase), then the list
// parameters, the centroids and the list directory, checked against the
// lists file.
#include <cstring>

#include "ivf/ivf.h"
#include "ivf/ivf_index.h"

namespace vx::ivf {

Result<std::unique_ptr<Index>> IvfIndex::Open(const std::string& dir, const Manifest& m, const IndexOptions& o) {
  return IndexBase::Open(std::unique_ptr<IndexBase>(new IvfIndex()), dir, m, o, kType, kFormat);
}

Status IvfIndex::LoadTypeFiles(const Manifest& m) {
  VX_ASSIGN_OR_RETURN(ivf_, IvfParams::FromManifest(m, dir_, info_.count));
  ivf_.Describe(&info_);
  const uint64_t lists = ivf_.lists, dim = info_.dim;
  llayout_ = ListLayout::Make(info_.page_size, quantizer_->code_size());
  if (llayout_.per_page == 0) return Status::Corruption(FilePath(kQuantizerFile) + ": code larger than a list page");
  VX_ASSIGN_OR_RETURN(const PagedFileHeader h, StructureHeader());
  if (h.kind != static_cast<uint32_t>(PagedFileKind::kLists) || h.count != info_.entries || h.dim != dim ||
      h.per_page != llayout_.per_page || h.record_bytes != 4 + llayout_.code_size) {
    return Status::Corruption(FilePath(kListsFile) + ": its header says " + std::to_string(h.count) + " entries of " +
                              std::to_string(h.dim) + " dims, " + std::to_string(h.per_page) +
                              " a page; the manifest and codes say " + std::to_string(info_.entries) + " of " +
                              std::to_string(dim) + ", " + std::to_string(llayout_.per_page));
  }
  VX_ASSIGN_OR_RETURN(const std::string c, ReadResident("centroids"));
  if (c.size() != lists * dim * 4) return Status::Corruption(FilePath("centroids") + ": wrong size");
  centroids_.resize(lists * dim);
  std::memcpy(centroids_.data(), c.data(), c.size());
  VX_ASSIGN_OR_RETURN(const std::string d, ReadResident("directory"));
  if (d.size() != lists * sizeof(ListExtent)) return Status::Corruption(FilePath("directory") + ": wrong size");
  extents_.resize(lists);
  std::memcpy(extents_.data(), d.data(), d.size());
  const uint64_t file_pages = info_.structure_bytes / info_.page_size;
  uint64_t total = 0;
  for (uint64_t l = 0; l < lists; ++l) {
    const ListExtent& e = extents_[l];
    if (e.first_page == 0 || e.first_page + e.pages > file_pages || e.pages != llayout_.PagesFor(e.count)) {
      return Status::Corruption(FilePath("directory") + ": list " + std::to_string(l) + " lies outside the lists file");
    }
    total += e.count;
  }
  if (total != info_.entries)
    return Status::Corruption(FilePath("directory") + ": entries do not add up to the manifest's");
  info_.resident_bytes += centroids_.size() * 4 + extents_.size() * sizeof(ListExtent);
  return Status::Ok();
}

}  // namespace vx::ivf
