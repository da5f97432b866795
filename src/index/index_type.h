// What an index type gives the API layer's table of types (api/index.cc):
// its name, its structure file, how to build and open it, and what a build
// costs (for PlanBuild). Each type defines one (hnsw::kType, ivf::kType).
#pragma once

#include <memory>
#include <string>

#include "io/manifest.h"
#include "io/page.h"
#include "vx/index.h"

namespace vx {

// The memory a build holds at its peak (beside the process's own) and the
// least build memory budget it accepts.
struct BuildCommit;

struct BuildMemory {
  uint64_t peak = 0;
  uint64_t least_budget = 0;
};

struct IndexTypeOps {
  IndexType type;
  const char* name;            // in the manifest and on the command line
  const char* structure_file;  // the paged file of its structure pages
  PageType structure_page;     // the type of its pages (after the header page)
  // Builds a new generation of the index in `dir`, committed as `commit`
  // says (index/build.h; nullptr: by itself).
  Status (*build)(VectorSource& source, const std::string& dir, const BuildOptions& options, const BuildCommit* commit);
  // Opens the index in `dir` that `manifest` (read from it) describes.
  Result<std::unique_ptr<Index>> (*open)(const std::string& dir, const Manifest& manifest, const IndexOptions& options);
  // A build of `rows` rows of `dim` dims whose codes take `code_size` bytes a
  // row, under `options` (its type's); InvalidArgument as the build would.
  Result<BuildMemory> (*build_memory)(uint64_t rows, uint32_t dim, size_t code_size, const BuildOptions& options);
  // The vectors a calibration build needs at least when the build reads
  // them at random (HNSW: past the CPU's caches, which its inserts outgrow
  // at scale); 0: the build streams them (IVF).
  uint64_t calibration_bytes;
  // Sets the options that depend on the row count (IVF: lists) to their
  // value for `rows`, so that a calibration build on fewer rows has the
  // build's shape; whether it changed any.
  bool (*fix_shape)(uint64_t rows, BuildOptions* options);
  // How much longer a build phase (a progress phase name) takes, or how
  // much more its structure file holds ("structure"), on `rows` rows than
  // on `sample` of them.
  double (*growth)(const char* what, uint64_t sample, uint64_t rows, const BuildOptions& options);
};

}  // namespace vx
