// The HNSW index type, registered in api/index.cc's type table.
#pragma once

#include <memory>
#include <string>

#include "io/manifest.h"
#include "vx/index.h"

namespace vx::hnsw {

// The HNSW file format version (layout.h), recorded in the manifest.
inline constexpr uint32_t kFormat = 1;

Status Build(VectorSource& source, const std::string& dir, const BuildOptions& options);
// Opens the index in `dir` that `manifest` (read from it) describes.
Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& manifest, const IndexOptions& options);

}  // namespace vx::hnsw
