// The on-disk layout of an HNSW index directory (docs/format.md):
//   graph     layer-0 adjacency on graph pages: page 0 a PagedFileHeader,
//             then fixed records [u32 count][2m x u32 ids], nodes_per_page a page
//   vectors   full vectors on vector pages (io/vector_file.h), in node order
//   upper     the upper layers (RAM at search time)
//   codes     quantizer codes, n x code_size (RAM)
//   quantizer the serialized quantizer (RAM)
//   ids       u32 per node: the base-file row of each (renumbered) node (RAM)
//   MANIFEST  sizes, checksums, parameters
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/page.h"

namespace vx::hnsw {

struct Layout {
  size_t page_size;
  uint32_t record_bytes, nodes_per_page;
  uint64_t GraphPage(uint32_t node) const { return 1 + node / nodes_per_page; }
  size_t GraphOffset(uint32_t node) const { return kPageHeaderSize + size_t{node % nodes_per_page} * record_bytes; }
};

}  // namespace vx::hnsw
