// The IVF index type behind vx/index.h (which dispatches here by type).
#pragma once

#include <memory>
#include <string>

#include "io/manifest.h"
#include "vx/index.h"

namespace vx::ivf {

Status Build(const std::string& base_path, const std::string& dir, const BuildOptions& options);
// Opens the index in `dir` that `manifest` (read from it) describes.
Result<std::unique_ptr<Index>> Open(const std::string& dir, const Manifest& manifest, const IndexOptions& options);

}  // namespace vx::ivf
