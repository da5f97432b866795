// The one checksum of vx: XXH3-64, used for pages, whole files, the
// manifest and serialized quantizers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vx {

uint64_t Checksum(const void* data, size_t n);

}  // namespace vx
