#include "core/checksum.h"

#include <xxhash.h>

namespace vx {

uint64_t Checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }

}  // namespace vx
