#include "ivf/layout.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vx::ivf {

uint32_t DefaultLists(uint64_t rows) {
  const uint64_t l = rows <= 1'000'000 ? rows / 1000 : static_cast<uint64_t>(std::sqrt(double(rows)));
  return static_cast<uint32_t>(std::max<uint64_t>(1, l));
}

void ListLayout::Encode(uint8_t* page, uint32_t list, uint32_t count, const uint8_t* rows, const uint8_t* codes) const {
  std::memcpy(page + kPageHeaderSize, &count, 4);
  std::memcpy(page + kPageHeaderSize + 4, &list, 4);
  std::memcpy(page + RowsOffset(), rows, size_t{count} * 4);
  std::memcpy(page + CodesOffset(), codes, count * code_size);
}

void ListLayout::DecodeHeader(const uint8_t* page, uint32_t* count, uint32_t* list) {
  std::memcpy(count, page + kPageHeaderSize, 4);
  std::memcpy(list, page + kPageHeaderSize + 4, 4);
}

}  // namespace vx::ivf
