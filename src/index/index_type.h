// What an index type gives the API layer's table of types (api/index.cc):
// its name, its structure file, and how to build and open it. Each type
// defines one (hnsw::kType, ivf::kType).
#pragma once

#include <memory>
#include <string>

#include "io/manifest.h"
#include "io/page.h"
#include "vx/index.h"

namespace vx {

struct IndexTypeOps {
  IndexType type;
  const char* name;            // in the manifest and on the command line
  const char* structure_file;  // the paged file of its structure pages
  PageType structure_page;     // the type of its pages (after the header page)
  Status (*build)(VectorSource& source, const std::string& dir, const BuildOptions& options);
  // Opens the index in `dir` that `manifest` (read from it) describes.
  Result<std::unique_ptr<Index>> (*open)(const std::string& dir, const Manifest& manifest, const IndexOptions& options);
};

}  // namespace vx
