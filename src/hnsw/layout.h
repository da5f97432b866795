// The on-disk layout of an HNSW index directory (docs/format.md):
//   graph       layer-0 adjacency on graph pages: page 0 a PagedFileHeader,
//               then packed node records (below)
//   graph_pages u32 per graph page: the first node on it (RAM)
//   vectors     full vectors on vector pages (io/vector_file.h), in node order
//   upper       the upper layers (RAM at search time)
//   codes       quantizer codes, n x code_size (RAM)
//   quantizer   the serialized quantizer (RAM)
//   keys        i64 per node: its key (index/keys.h) (RAM)
//   MANIFEST    sizes, checksums, parameters
//
// Every codec of these files is here, each encoder beside its decoder.
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
#include <string>
#include <vector>

#include "core/flat_map.h"
#include "io/env.h"
#include "io/page.h"
#include "vx/status.h"

namespace vx::hnsw {

inline constexpr uint32_t kMaxM = 100;  // pgvector's bound on m: a layer-0 list holds at most 2 * kMaxM

// Appends the record of `node` (ids ascending and distinct) to *out.
void EncodeNeighbors(uint32_t node, std::span<const uint32_t> sorted, std::vector<uint8_t>* out);

// Decodes the record [rec, end) of `node` into out[0..*n); false when it is
// malformed: more than `max` ids, an id >= `count`, ids not ascending, or a
// varint running past `end`.
bool DecodeNeighbors(uint32_t node, const uint8_t* rec, const uint8_t* end, uint32_t max, uint32_t count, uint32_t* out,
                     uint32_t* n);

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
  // The graph_pages file's bytes (u32 first node per page), checked against
  // a graph file of `file_bytes` (pages of `page_size`, a header page first)
  // over `count` nodes; Corruption naming `where` otherwise.
  static Result<GraphPageMap> Decode(const std::string& bytes, uint64_t count, uint64_t file_bytes, size_t page_size,
                                     const std::string& where);
  const std::vector<uint32_t>& first_nodes() const { return first_; }
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

class Graph;

// Writes layer 0 of `g` as the graph file (a header page, then packed
// records of nodes 0..n-1) to `f`, fsyncs it, and returns the page map.
// InvalidArgument when one node's record does not fit a page. Pages are
// sealed with `binding` (io/page.h).
Result<GraphPageMap> WriteGraphFile(File* f, size_t page_size, uint64_t binding, const Graph& g);

// The upper file: u32 nodes; per node of level >= 1: u32 id, u32 levels,
// then per level 1..levels: u32 count, count ids.
std::vector<uint32_t> EncodeUpper(const Graph& g);

// The upper layers in RAM, decoded from the upper file.
class UpperLayers {
 public:
  // Decodes and checks the file: ids below `count`, at most `m` ids a list,
  // no node twice, 1..15 levels a node, the entry present when
  // max_level > 0, nothing trailing. Corruption naming `where` otherwise.
  Status Decode(const std::string& bytes, uint64_t count, uint32_t m, uint32_t entry, uint32_t max_level,
                const std::string& where);
  // The node's level: 0 when it is on layer 0 only.
  uint32_t Levels(uint32_t node) const {
    const uint64_t* first = lists_.Find(node);
    return first == nullptr ? 0 : words_[*first - 1];
  }
  // The node's list on `level` (>= 1); empty when the node is not that high.
  std::span<const uint32_t> Neighbors(uint32_t node, uint32_t level) const {
    const uint64_t* first = lists_.Find(node);
    if (first == nullptr || level > words_[*first - 1]) return {};
    uint64_t off = *first;
    for (uint32_t l = 1; l < level; ++l) off += 1 + words_[off];
    return {words_.data() + off + 1, words_[off]};
  }
  size_t memory_bytes() const { return words_.size() * 4 + lists_.memory_bytes(); }

 private:
  std::vector<uint32_t> words_;
  // Node of level >= 1 -> where its level-1 list starts in words_ (its
  // level count is the word before).
  FlatMap<uint32_t, uint64_t> lists_;
};

}  // namespace vx::hnsw
