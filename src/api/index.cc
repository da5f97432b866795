// vx/index.h: dispatch to the index types by BuildOptions::type and by the
// manifest's "type" parameter.
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
}

Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options) {
  return options.type == IndexType::kIvf ? ivf::Build(base_path, dir, options) : hnsw::Build(base_path, dir, options);
}

Result<std::unique_ptr<Index>> Index::Open(const std::string& dir, const IndexOptions& options) {
  Env* env = options.env ? options.env : DefaultEnv();
  VX_ASSIGN_OR_RETURN(Manifest m, ReadManifest(env, dir));
  const std::string type = m.params["type"];
  if (type == "hnsw") return hnsw::Open(dir, options);
  if (type == "ivf") return ivf::Open(dir, options);
  return Status::NotSupported(dir + ": index type '" + type + "' is not one this build of vx knows (hnsw | ivf)");
}

}  // namespace vx
