// The IVF index type, as the API layer's table of types sees it.
#pragma once

#include "index/index_type.h"

namespace vx::ivf {

inline constexpr char kListsFile[] = "lists";
inline constexpr uint32_t kFormat = 1;  // of the files layout.h describes, recorded in the manifest
extern const IndexTypeOps kType;

}  // namespace vx::ivf
