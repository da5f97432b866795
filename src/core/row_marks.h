// RowMarks: the rows a search has marked (HNSW: visited nodes; IVF: rows
// already offered, to drop replicas), as a bitmap over the index's rows
// plus the list of set rows. One per searching thread, reused across
// queries and indexes: Begin clears only what the last query set, so a
// query costs O(rows it marks), and the bitmap (rows/8 bytes) only grows.
#pragma once

#include <cstdint>
#include <vector>

namespace vx {

class RowMarks {
 public:
  // Starts a query over rows [0, n).
  void Begin(uint64_t n) {
    for (uint32_t r : set_) bits_[r >> 6] = 0;  // whole words: every other bit in them is clear too
    set_.clear();
    if (bits_.size() < (n + 63) / 64) bits_.resize((n + 63) / 64, 0);
  }
  // Marks row r; false if it was already marked in this query.
  bool Insert(uint32_t r) {
    const uint64_t mask = uint64_t{1} << (r & 63);
    if (bits_[r >> 6] & mask) return false;
    bits_[r >> 6] |= mask;
    set_.push_back(r);
    return true;
  }

 private:
  std::vector<uint64_t> bits_;
  std::vector<uint32_t> set_;
};

}  // namespace vx
