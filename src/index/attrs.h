// Attributes once an index is open (AttrIndex), and the row sets a filter
// evaluates to (RowSet).
//
// File "attrs" of a generation (in the manifest with its checksum, present
// only when the build had attributes), rows in vectors-file order: magic
// u32 "VXAT", version u32, rows u64, columns u32, then per column its name
// (u32 length, bytes), its type u32 (AttributeType) and its values: int:
// rows x i64; float: rows x f64; labels: rows + 1 offsets u64, then
// offsets[rows] labels i64. Format in docs/format.md.
//
// In RAM: the columns as read, plus for each int and float column its rows
// sorted by value (equality, IN and ranges are binary searches) cut into
// buckets of 4,096 rows with a CRoaring bitmap each (a range's whole
// buckets are OR-ed, only its two edge buckets' rows sorted: a 50% range
// of 1M rows costs an OR of 122 bitmaps, not a sort of 500k rows), and for
// each labels column a CRoaring posting bitmap per label. Per-value bitmaps
// for int columns would cost a bitmap per distinct value (a timestamp
// column has one per row) and give nothing the buckets do not.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "index/index_base.h"

struct roaring_bitmap_s;

namespace vx {

inline constexpr char kAttrsFile[] = "attrs";

// A set of rows, a CRoaring bitmap; as a RowCheck it admits its rows.
class RowSet final : public RowCheck {
 public:
  RowSet();  // empty
  explicit RowSet(roaring_bitmap_s* owned);
  RowSet(RowSet&& o) noexcept;
  RowSet& operator=(RowSet&& o) noexcept;
  RowSet(const RowSet&) = delete;
  RowSet& operator=(const RowSet&) = delete;
  ~RowSet() override;

  bool Admit(uint32_t row) const override;
  uint64_t size() const;
  // Its rows, ascending, into *out (whose storage a caller reuses).
  void Rows(std::vector<uint32_t>* out) const;
  roaring_bitmap_s* raw() const { return b_; }

 private:
  roaring_bitmap_s* b_;
};

class AttrIndex {
 public:
  // The file's bytes for `a` (checked: Attributes::Rows), rows in the
  // order `row_of` gives (file row r holds source row row_of[r]; empty:
  // source order).
  static Result<std::string> Serialize(const Attributes& a, std::span<const uint32_t> row_of);
  // Reads a file Serialize wrote for an index of `rows` rows; Corruption
  // naming `path` when it is not one.
  static Result<std::unique_ptr<AttrIndex>> Load(const std::string& bytes, uint64_t rows, const std::string& path);

  // The rows `f` matches; InvalidArgument naming the column (and its
  // character in the text) for a column the index has not, or a condition
  // its type cannot take (HAS on a number, a comparison on labels).
  Result<RowSet> Match(const Filter& f) const;
  // The columns of rows `rows` (in that order): what a rebuild from the
  // live rows keeps.
  Attributes Select(std::span<const uint32_t> rows) const;
  uint64_t rows() const { return rows_; }
  uint64_t bytes() const { return bytes_; }
  // (name, type) per column, as IndexInfo lists them.
  std::vector<std::pair<std::string, AttributeType>> Schema() const;

 private:
  struct Column {
    AttributeColumn values;
    std::vector<uint32_t> by_value;  // int, float: rows sorted by value
    // int, float: by_value in buckets of kBucketRows, each a bitmap, so that
    // a broad range is an OR of bitmaps, not a sort of its rows.
    std::vector<RowSet> buckets;
    std::map<int64_t, RowSet> postings;  // labels: the rows of each label
  };
  Result<RowSet> Eval(const Filter::Node& n, const std::string& text) const;
  // int, float columns: the rows whose value v has lo <= v <= hi (closed
  // bounds; an int column's bounds rounded inward).
  RowSet Range(const Column& c, double lo, double hi, bool lo_open, bool hi_open) const;
  RowSet IntRange(const Column& c, int64_t lo, int64_t hi) const;
  // The rows of by_value[first, last): the whole buckets inside it OR-ed,
  // the rest sorted in.
  static RowSet Slice(const Column& c, size_t first, size_t last);
  static constexpr size_t kBucketRows = 4096;

  uint64_t rows_ = 0;
  uint64_t bytes_ = 0;
  std::map<std::string, Column> columns_;
  std::vector<std::string> order_;  // column names as stored
};

}  // namespace vx
