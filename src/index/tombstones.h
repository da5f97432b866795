// Tombstones: the rows deleted from an index, a CRoaring bitmap of row
// numbers. A search admits no row in it (it is the RowCheck the search is
// given), while the HNSW walk still routes through deleted nodes until a
// vacuum repairs their neighbourhoods.
//
// A Tombstones is immutable once published: a write copies it, adds its
// rows and publishes the copy, so searches read it without a lock. So that
// a copy costs little however many rows are deleted, the rows sit in two
// bitmaps: a large base that copies share, and the recent rows, which each
// copy has its own of; the recent rows fold into a new base once they
// outgrow the square root of the base (a copy and an amortized fold then
// both cost O(sqrt(deleted)) per write, not O(deleted)).
//
// File (a segment of kind "tombstones", named in the manifest with its
// checksum): magic u32 "VXTS", version u32, the index's row count u64, then
// the bitmap in CRoaring's portable format. Format in docs/format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "index/index_base.h"

struct roaring_bitmap_s;

namespace vx {

inline constexpr char kTombstonesKind[] = "tombstones";

class Tombstones final : public RowCheck {
 public:
  Tombstones();
  Tombstones(const Tombstones& other);
  Tombstones& operator=(const Tombstones&) = delete;
  ~Tombstones() override;

  bool Admit(uint32_t row) const override { return !Contains(row); }
  bool Contains(uint32_t row) const;
  uint64_t size() const;
  // Its rows that `other` (nullptr: none) does not hold, ascending.
  std::vector<uint32_t> RowsNotIn(const Tombstones* other) const;
  // Removes its rows from the bitmap `rows`.
  void RemoveFrom(roaring_bitmap_s* rows) const;
  // Adds `rows`; those already in it stay once.
  void Add(std::span<const uint32_t> rows);
  // Bytes of RAM the bitmaps hold (their serialized size, a close bound).
  uint64_t bytes() const;

  // The file's bytes for an index of `rows` rows.
  std::string Serialize(uint64_t rows) const;
  // Reads a file written by Serialize for an index of `rows` rows;
  // Corruption naming `path` when it is not one.
  static Result<std::unique_ptr<Tombstones>> Deserialize(const std::string& bytes, uint64_t rows,
                                                         const std::string& path);

 private:
  // Owns one CRoaring bitmap.
  struct Bitmap {
    explicit Bitmap(roaring_bitmap_s* b);
    Bitmap(const Bitmap&) = delete;
    Bitmap& operator=(const Bitmap&) = delete;
    ~Bitmap();
    roaring_bitmap_s* b;
  };
  explicit Tombstones(std::shared_ptr<const Bitmap> base);
  std::shared_ptr<const Bitmap> base_;  // shared by copies
  std::unique_ptr<Bitmap> recent_;      // rows not in base_
};

// A copy of `deleted` (nullptr: none) with `rows` added: what a write
// publishes in its place.
std::shared_ptr<const Tombstones> WithDeleted(const Tombstones* deleted, std::span<const uint32_t> rows);

}  // namespace vx
