#include "index/keys.h"

#include <algorithm>
#include <numeric>

namespace vx {

Status CheckKeys(const std::vector<int64_t>& keys, uint64_t count, const std::string& what) {
  if (keys.size() != count) {
    return Status::InvalidArgument(what + ": " + std::to_string(keys.size()) + " keys for " + std::to_string(count) +
                                   " vectors");
  }
  // Rows sorted by key (stable: ties keep row order), so a repeat sits next
  // to the row it repeats.
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  uint64_t worst = UINT64_MAX, first = 0;  // the lowest repeating row, and the row it repeats
  for (size_t i = 1; i < order.size(); ++i) {
    if (keys[order[i]] == keys[order[i - 1]] && order[i] < worst) {
      worst = order[i];
      first = order[i - 1];
    }
  }
  if (worst != UINT64_MAX) {
    return Status::InvalidArgument(what + ": row " + std::to_string(worst) + " repeats key " +
                                   std::to_string(keys[worst]) + " of row " + std::to_string(first) +
                                   "; keys must be distinct");
  }
  return Status::Ok();
}

}  // namespace vx
