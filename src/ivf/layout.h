// The on-disk layout of an IVF index directory (docs/format.md):
//   centroids  lists x dim f32 (RAM)
//   directory  per list: u64 first page, u32 pages, u32 entries (RAM)
//   lists      list pages: page 0 a PagedFileHeader, then each list on its
//              own run of consecutive pages. A list page's payload:
//                [u32 count][u32 list][per_page x u32 rows][per_page x code]
//              (count used; rows are base-file row numbers)
//   vectors    full vectors in base-file order (io/vector_file.h)
//   keys       i64 per row: its key (index/keys.h) (RAM)
//   quantizer  the serialized quantizer (RAM)
//   MANIFEST   sizes, checksums, parameters
//
// Every codec of these files is here, each encoder beside its decoder.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/page.h"

namespace vx::ivf {

struct ListExtent {
  uint64_t first_page;
  uint32_t pages;
  uint32_t count;
};
static_assert(sizeof(ListExtent) == 16);

struct ListLayout {
  size_t page_size = 0, code_size = 0;
  uint32_t per_page = 0;

  static constexpr size_t kPayloadHeader = 8;  // count, list
  static ListLayout Make(size_t page_size, size_t code_size) {
    ListLayout l{page_size, code_size, 0};
    l.per_page = static_cast<uint32_t>((page_size - kPageHeaderSize - kPayloadHeader) / (4 + code_size));
    return l;
  }
  size_t RowsOffset() const { return kPageHeaderSize + kPayloadHeader; }
  size_t CodesOffset() const { return RowsOffset() + size_t{4} * per_page; }
  uint32_t PagesFor(uint64_t entries) const { return static_cast<uint32_t>((entries + per_page - 1) / per_page); }

  // Fills the payload of list page `page` (zeroed, header not yet sealed)
  // with `count` entries of `list`: their rows (u32 each) and codes.
  void Encode(uint8_t* page, uint32_t list, uint32_t count, const uint8_t* rows, const uint8_t* codes) const;
  // The header of a list page: its entry count and list.
  static void DecodeHeader(const uint8_t* page, uint32_t* count, uint32_t* list);
};

// pgvector's default: rows / 1000 up to 1M rows, sqrt(rows) above (at least 1).
uint32_t DefaultLists(uint64_t rows);

}  // namespace vx::ivf
