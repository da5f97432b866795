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
#include "index/params.h"

struct roaring_bitmap_s;

namespace vx {

struct DeltaView;

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
  // Its rows, ascending, into *out (whose storage a caller reuses); with
  // `first` and `count`, only the count rows from the first-th on.
  void Rows(std::vector<uint32_t>* out) const { Rows(out, 0, size()); }
  void Rows(std::vector<uint32_t>* out, uint64_t first, uint64_t count) const;
  roaring_bitmap_s* raw() const { return b_; }

 private:
  roaring_bitmap_s* b_;
};

// The columns a filter reads, each a set of rows numbered from first_row():
// AttrIndex's (the built rows, through sorted orders and postings) or the
// inserted rows' (DeltaView, one pass over their values). MatchFilter keeps
// what a condition means (int bounds, type errors) in one place for both.
class FilterColumns {
 public:
  virtual ~FilterColumns() = default;
  virtual const AttrSchema& schema() const = 0;
  // Column `col` (an index into schema()), int: the rows whose value v has
  // lo <= v <= hi.
  virtual RowSet IntRange(size_t col, int64_t lo, int64_t hi) const = 0;
  // A float column: the rows in the range, each bound open or closed.
  virtual RowSet FloatRange(size_t col, double lo, double hi, bool lo_open, bool hi_open) const = 0;
  // A labels column: the rows that carry `label`.
  virtual RowSet Label(size_t col, int64_t label) const = 0;
  // The rows the columns hold that are not in `s`.
  virtual RowSet Complement(RowSet s) const = 0;
};

// The rows of `columns` that `f` matches; InvalidArgument naming the
// column (and its character in the text) for a column they have not, or a
// condition its type cannot take (HAS on a number, a comparison on labels).
Result<RowSet> MatchFilter(const Filter& f, const FilterColumns& columns);
// The inserted rows of `delta` that `f` matches (row numbers from
// delta.base_rows); as MatchFilter.
Result<RowSet> MatchFilter(const Filter& f, const DeltaView& delta);

// Rows `rows` of column `c`, in that order, appended to *out (a column of
// the same name and type; default-constructed: it becomes one).
void AppendRows(const AttributeColumn& c, std::span<const uint32_t> rows, AttributeColumn* out);
// The attributes an insert of `rows` rows gives, as the index keeps them:
// the schema's columns in its order, an int column widened to a float one.
// InvalidArgument naming the column for one missing, one the index has
// not, one of another type or of another row count; for attributes given
// to an index without, or none given to one with.
Result<Attributes> ConformAttributes(const Attributes& given, const AttrSchema& schema, uint64_t rows);

class AttrIndex final : public FilterColumns {
 public:
  // The file's bytes for `a` (checked: Attributes::Rows), rows in the
  // order `row_of` gives (file row r holds source row row_of[r]; empty:
  // source order). Rows segments and WAL records hold inserted rows'
  // attributes in this form too.
  static Result<std::string> Serialize(const Attributes& a, std::span<const uint32_t> row_of);
  // The columns of bytes Serialize wrote for `rows` rows; Corruption
  // naming `path` when they are not that.
  static Result<Attributes> Parse(const std::string& bytes, uint64_t rows, const std::string& path);
  // Reads a file Serialize wrote for an index of `rows` rows; Corruption
  // naming `path` when it is not one.
  static Result<std::unique_ptr<AttrIndex>> Load(const std::string& bytes, uint64_t rows, const std::string& path);

  Result<RowSet> Match(const Filter& f) const { return MatchFilter(f, *this); }
  // The columns of rows `rows` (in that order): what a rebuild from the
  // live rows keeps.
  Attributes Select(std::span<const uint32_t> rows) const;
  uint64_t rows() const { return rows_; }
  uint64_t bytes() const { return bytes_; }
  // (name, type) per column, in file order, as IndexInfo lists them.
  const AttrSchema& schema() const override { return schema_; }

  RowSet IntRange(size_t col, int64_t lo, int64_t hi) const override;
  RowSet FloatRange(size_t col, double lo, double hi, bool lo_open, bool hi_open) const override;
  RowSet Label(size_t col, int64_t label) const override;
  RowSet Complement(RowSet s) const override;

 private:
  struct Column {
    AttributeColumn values;
    std::vector<uint32_t> by_value;  // int, float: rows sorted by value
    // int, float: by_value in buckets of kBucketRows, each a bitmap, so that
    // a broad range is an OR of bitmaps, not a sort of its rows.
    std::vector<RowSet> buckets;
    std::map<int64_t, RowSet> postings;  // labels: the rows of each label
  };
  // The rows of by_value[first, last): the whole buckets inside it OR-ed,
  // the rest sorted in.
  static RowSet Slice(const Column& c, size_t first, size_t last);
  static constexpr size_t kBucketRows = 4096;

  uint64_t rows_ = 0;
  uint64_t bytes_ = 0;
  std::vector<Column> columns_;  // in file order
  AttrSchema schema_;
};

}  // namespace vx
