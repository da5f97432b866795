// The on-disk layout of an HNSW index directory (docs/format.md):
//   graph       layer-0 adjacency on graph pages: page 0 a PagedFileHeader,
//               then packed node records (below)
//   graph_pages u32 per graph page: the first node on it (RAM)
//   vectors     full vectors on vector pages (io/vector_file.h), in node order
//   upper       the upper layers (RAM at search time)
//   codes       quantizer codes, n x code_size (RAM)
//   quantizer   the serialized quantizer (RAM)
//   ids         u32 per node: the base-file row of each (renumbered) node (RAM)
//   MANIFEST    sizes, checksums, parameters
//
// A node's record is its neighbour ids sorted and delta-coded as LEB128
// varints: the first as zigzag(id - node), then each gap to the previous.
// After BFS renumbering most gaps are small, so a record takes about two
// bytes a neighbour instead of four and the graph is a fraction of its fixed-
// width size: more of it fits in the pool, and a walk waits on fewer reads.
// Records of consecutive nodes fill a page:
//   payload = [u16 nodes][u16 end of each record, from the payload start][records]
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/page.h"

namespace vx::hnsw {

inline constexpr uint32_t kMaxM = 100;  // pgvector's bound on m: a layer-0 list holds at most 2 * kMaxM

// Appends the record of `node` (ids ascending and distinct) to *out.
void EncodeNeighbors(uint32_t node, std::span<const uint32_t> sorted, std::vector<uint8_t>* out);

// Decodes the record [rec, end) of `node` into out[0..*n); false when it is
// malformed: more than `max` ids, an id >= `count`, ids not ascending, or a
// varint running past `end`.
bool DecodeNeighbors(uint32_t node, const uint8_t* rec, const uint8_t* end, uint32_t max, uint32_t count,
                     uint32_t* out, uint32_t* n);

// Packs records into page payloads of `payload_bytes` in node order.
class GraphPagePacker {
 public:
  explicit GraphPagePacker(size_t payload_bytes) : capacity_(payload_bytes) {}
  // Whether a record of `bytes` still fits on the current page.
  bool Fits(size_t bytes) const { return 2 + 2 * (ends_.size() + 1) + records_.size() + bytes <= capacity_; }
  bool empty() const { return ends_.empty(); }
  void Add(std::span<const uint8_t> record);
  // Writes the page payload into `payload` (capacity bytes, already zeroed)
  // and starts a new page.
  void Finish(uint8_t* payload);

 private:
  size_t capacity_;
  std::vector<uint16_t> ends_;  // record ends relative to the start of the records
  std::vector<uint8_t> records_;
};

// Finds a node's record: the page from the first-node table, the record from
// the page's end table.
class GraphPageMap {
 public:
  GraphPageMap() = default;
  explicit GraphPageMap(std::vector<uint32_t> first_node) : first_(std::move(first_node)) {}
  size_t pages() const { return first_.size(); }
  // File page (1-based: page 0 is the header) holding `node`.
  uint64_t Page(uint32_t node) const;
  // The record of `node` on its page `page` (= Page(node)), whose payload is
  // given; false when the page's end table is malformed.
  bool Record(uint32_t node, uint64_t page, const uint8_t* payload, size_t payload_bytes, const uint8_t** rec,
              const uint8_t** end) const;

 private:
  std::vector<uint32_t> first_;  // ascending, first_[0] == 0
};

}  // namespace vx::hnsw
