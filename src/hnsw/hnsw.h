// The HNSW index type, as the API layer's table of types sees it.
#pragma once

#include "index/index_type.h"

namespace vx::hnsw {

inline constexpr uint32_t kFormat = 1;  // of the files layout.h describes, recorded in the manifest
inline constexpr char kGraphFile[] = "graph";
extern const IndexTypeOps kType;

}  // namespace vx::hnsw
