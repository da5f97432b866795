// The on-disk layout of an HNSW index directory (docs/format.md):
//   graph     layer-0 adjacency on graph pages: page 0 a file header, then
//             fixed records [u32 count][2m x u32 ids], nodes_per_page a page
//   vectors   full vectors (f32 or f16) on vector pages: page 0 a header,
//             then vectors_per_page vectors a page
//   upper     the upper layers (RAM at search time)
//   codes     quantizer codes, n x code_size (RAM)
//   quantizer the serialized quantizer (RAM)
//   ids       u32 per node: the base-file row of each (renumbered) node (RAM)
//   MANIFEST  sizes, checksums, parameters
#pragma once

#include <cstddef>
#include <cstdint>

namespace vx::hnsw {

inline constexpr uint32_t kFileHeaderMagic = 0x48585856;  // "VXXH"

// Payload of page 0 of the graph and vectors files.
struct PagedFileHeader {
  uint32_t magic;
  uint32_t kind;        // 1 graph, 2 vectors
  uint64_t count;       // nodes / vectors
  uint32_t record_bytes;
  uint32_t per_page;    // records per page
  uint32_t dim;         // vectors only
  uint32_t element;     // vectors only: ElementType
};
static_assert(sizeof(PagedFileHeader) == 32);

struct Layout {
  size_t page_size;
  uint32_t record_bytes, nodes_per_page;  // graph
  uint32_t vector_bytes, vectors_per_page;
  uint64_t GraphPage(uint32_t node) const { return 1 + node / nodes_per_page; }
  size_t GraphOffset(uint32_t node) const { return 32 + size_t{node % nodes_per_page} * record_bytes; }
  uint64_t VectorPage(uint32_t node) const { return 1 + node / vectors_per_page; }
  size_t VectorOffset(uint32_t node) const { return 32 + size_t{node % vectors_per_page} * vector_bytes; }
};

}  // namespace vx::hnsw
