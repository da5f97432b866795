// DeltaRows: the rows inserted into an index since its build, held in RAM
// (keys and full vectors, float32, unit length under cosine) and searched
// exactly beside the disk index. Row numbers go on from the base: the
// first inserted row is row `base_rows`, so tombstones name base and
// inserted rows alike.
//
// Rows are only appended. A writer fills the slots past the published
// count, then publishes a DeltaView that covers them; a search reads only
// the rows of the view it holds, so it needs no lock, and a view costs a
// pointer per 4096 rows to copy.
//
// An index with attributes keeps each inserted row's values beside its
// vector; filters evaluate them per query (MatchFilter in attrs.h).
//
// File (a segment of kind "rows", named in the manifest with its checksum;
// each checkpoint adds one with the rows inserted since the last): magic u32
// "VXRS", version u32, first row u64, row count u64, dim u32, attribute
// columns u32 (0: none), then the keys (i64 each), the vectors (float32, dim
// each) and, with attribute columns, the rows' attributes in the attrs
// file's form (attrs.h). Format in docs/format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/topk.h"
#include "index/params.h"
#include "vx/status.h"
#include "vx/types.h"

namespace vx {

class RowCheck;

inline constexpr char kRowsKind[] = "rows";

// A fixed-size block of inserted rows. Slots past a view's count may be
// written while the view is read; slots within it never change.
struct DeltaChunk {
  static constexpr uint64_t kRows = 4096;
  DeltaChunk(uint32_t dim, const AttrSchema& schema);
  std::vector<int64_t> keys;
  std::vector<float> vectors;
  // One per attribute column, in the schema's order: kRows ints, floats or
  // label lists, by the column's type.
  struct Attr {
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::vector<int64_t>> labels;
  };
  std::vector<Attr> attrs;
};

// The inserted rows a search sees: the first `rows` of the chunks.
struct DeltaView {
  uint64_t base_rows = 0;  // row number of the first inserted row
  uint32_t dim = 0;
  uint64_t rows = 0;
  AttrSchema schema;         // the index's attribute columns
  uint64_t label_count = 0;  // labels the rows carry, all columns
  std::vector<std::shared_ptr<DeltaChunk>> chunks;

  int64_t key(uint64_t i) const { return chunks[i / DeltaChunk::kRows]->keys[i % DeltaChunk::kRows]; }
  const float* vector(uint64_t i) const {
    return chunks[i / DeltaChunk::kRows]->vectors.data() + (i % DeltaChunk::kRows) * dim;
  }
  // Bytes of RAM a chunk holds, less the labels.
  uint64_t chunk_bytes() const;
  // Bytes of RAM the chunks hold.
  uint64_t bytes() const { return chunks.size() * chunk_bytes() + label_count * sizeof(int64_t); }

  // A copy with rows [rows, rows + n) appended (keys, vectors: n rows,
  // already unit length under cosine; attrs: n rows of the schema's
  // columns in its order, nullptr when it has none), writing into chunk
  // slots no view reads yet.
  std::shared_ptr<const DeltaView> Append(const int64_t* keys, const float* vectors, uint64_t n,
                                          const Attributes* attrs) const;
  // The attributes of rows [from, to), in the schema's order.
  Attributes Attrs(uint64_t from, uint64_t to) const;
  // The attributes of n rows as Attrs gives them, serialized
  // (AttrIndex::Serialize); Corruption naming `path` when they are not, or
  // not of the schema's columns.
  Result<Attributes> ParseAttrs(const std::string& bytes, uint64_t n, const std::string& path) const;

  // Pushes every row that `check` admits (nullptr: all) into `top` by exact
  // distance to `query` (a prepared query: unit length under cosine), keyed
  // by key. Returns the rows scored.
  uint64_t Search(Metric metric, const float* query, const RowCheck* check, TopK* top) const;
  // As Search, over inserted rows `rows` only (row numbers, ascending, each
  // at least base_rows and below base_rows + rows): a filter's few matches
  // are scored without scoring every row.
  uint64_t SearchRows(Metric metric, const float* query, std::span<const uint32_t> rows, TopK* top) const;

  // The bytes of a rows segment holding rows [from, rows).
  std::string Serialize(uint64_t from) const;
  // Appends the rows of a segment file written by Serialize; Corruption
  // naming `path` when it is not one, or does not start at row
  // base_rows + rows, or is of another dimension or other attributes.
  Result<std::shared_ptr<const DeltaView>> AppendFile(const std::string& bytes, const std::string& path) const;
};

}  // namespace vx
