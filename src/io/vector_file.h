// The vectors file, shared by every index type: full-precision vectors (f32
// or f16) on vector pages, page 0 a PagedFileHeader, then `per_page` vectors
// a page. Slot i is the i-th vector written.
//
// VectorFileWriter streams rows in; IndexPages::VisitVectors (index/index_pages.h)
// reads them back for the rerank step of a search.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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
  // Size of a vectors file of `count` rows: a header page, then the rows' pages.
  uint64_t FileBytes(uint64_t count) const { return page_size * (1 + (count + per_page - 1) / per_page); }
};

class VectorFileWriter {
 public:
  // Pages sealed with `binding` (io/page.h).
  static Result<std::unique_ptr<VectorFileWriter>> Create(Env* env, const std::string& path, const VectorLayout& layout,
                                                          uint64_t count, uint64_t binding);
  // Appends n rows of dim floats, stored as layout.storage.
  Status Append(const float* rows, uint64_t n);
  // Flushes the last page and fsyncs; FailedPrecondition unless `count` rows came.
  Status Finish();

 private:
  VectorFileWriter(std::unique_ptr<File> f, const VectorLayout& l, uint64_t count, uint64_t binding)
      : file_(std::move(f)), layout_(l), count_(count), writer_(file_.get(), l.page_size, PageType::kVector, binding) {}
  std::unique_ptr<File> file_;
  VectorLayout layout_;
  uint64_t count_, written_ = 0;
  PageWriter writer_;
};

}  // namespace vx
