// vx/index.h: dispatch to the index types by BuildOptions::type and by the
// manifest's "type" parameter.
#include <algorithm>

#include "hnsw/hnsw.h"
#include "io/env.h"
#include "io/manifest.h"
#include "ivf/ivf.h"
#include "vx/index.h"

namespace vx {

const char* IndexTypeName(IndexType t) { return t == IndexType::kIvf ? "ivf" : "hnsw"; }

Result<IndexType> ParseIndexType(const std::string& s) {
  if (s == "hnsw") return IndexType::kHnsw;
  if (s == "ivf") return IndexType::kIvf;
  return Status::InvalidArgument("unknown index type '" + s + "' (hnsw | ivf)");
}

void SearchStats::Add(const SearchStats& o) {
  graph_pages += o.graph_pages;
  graph_reads += o.graph_reads;
  vector_pages += o.vector_pages;
  vector_reads += o.vector_reads;
  round_trips += o.round_trips;
  codes_scored += o.codes_scored;
  vectors_reranked += o.vectors_reranked;
}

Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options) {
  return options.type == IndexType::kIvf ? ivf::Build(base_path, dir, options) : hnsw::Build(base_path, dir, options);
}

Result<std::unique_ptr<Index>> Index::Open(const std::string& dir, const IndexOptions& options) {
  Env* env = options.env ? options.env : DefaultEnv();
  // A build that commits between our reading the manifest and opening its
  // files deletes them: then the manifest names a newer generation, which
  // is the one to open. A rebuild is minutes; three tries are plenty.
  for (int attempt = 1;; ++attempt) {
    VX_ASSIGN_OR_RETURN(const Manifest m, ReadManifest(env, dir));
    const auto type = m.params.find("type");
    const std::string name = type == m.params.end() ? "" : type->second;
    Result<std::unique_ptr<Index>> index =
        name == "hnsw" ? hnsw::Open(dir, m, options)
        : name == "ivf" ? ivf::Open(dir, m, options)
                        : Status::NotSupported(dir + ": index type '" + name + "' is not one this build of vx knows (hnsw | ivf)");
    if (index.ok() || attempt == 3) return index;
    auto now = ReadManifest(env, dir);
    if (!now.ok() || now->generation == m.generation) return index;
  }
}

Result<IndexOptions> IndexOptionsForMemory(const std::string& dir, uint64_t memory_bytes, Env* env) {
  if (env == nullptr) env = DefaultEnv();
  VX_ASSIGN_OR_RETURN(const Manifest m, ReadManifest(env, dir));
  uint64_t structure = 0;
  for (const ManifestFile& f : m.files) {
    if (f.name == "graph" || f.name == "lists") structure = f.size;
  }
  IndexOptions o;
  o.env = env;
  o.graph_cache_bytes = std::min(structure, memory_bytes * 3 / 4);
  o.vector_cache_bytes = memory_bytes - o.graph_cache_bytes;
  return o;
}

}  // namespace vx
