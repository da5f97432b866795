// The IVF index type behind vx/index.h (which dispatches here by type).
#pragma once

#include <memory>
#include <string>

#include "vx/index.h"

namespace vx::ivf {

Status Build(const std::string& base_path, const std::string& dir, const BuildOptions& options);
Result<std::unique_ptr<Index>> Open(const std::string& dir, const IndexOptions& options);

}  // namespace vx::ivf
