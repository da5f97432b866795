// Keys: every row of an index has a user key (int64), given at build (a
// key file, or the row number by default) and returned by every search in
// place of the row. Rows (node or row ids, u32) stay internal.
//
// The `keys` file of a generation: one int64 per row, in the row order of
// the index's vectors file (HNSW: node order; IVF: base order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vx/status.h"

namespace vx {

inline constexpr char kKeysFile[] = "keys";

// OK when `keys` holds `count` distinct keys. InvalidArgument otherwise,
// naming `what` (the key file) and the row of the first repeat and the row
// it repeats.
Status CheckKeys(const std::vector<int64_t>& keys, uint64_t count, const std::string& what);

}  // namespace vx
