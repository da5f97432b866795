// vx/index.h: the table of index types, and dispatch through it by
// BuildOptions::type and by the manifest's "type" parameter: the one place
// that names every type.
#include <algorithm>

#include "core/check.h"
#include "hnsw/hnsw.h"
#include "io/env.h"
#include "io/manifest.h"
#include "ivf/ivf.h"
#include "vx/index.h"

namespace vx {
namespace {

// Every index type, once.
constexpr const IndexTypeOps* kIndexTypes[] = {&hnsw::kType, &ivf::kType};

const IndexTypeOps& EntryOf(IndexType t) {
  for (const IndexTypeOps* e : kIndexTypes) {
    if (e->type == t) return *e;
  }
  VX_CHECK(false);  // every IndexType has an entry
  return *kIndexTypes[0];
}

const IndexTypeOps* EntryNamed(const std::string& name) {
  for (const IndexTypeOps* e : kIndexTypes) {
    if (name == e->name) return e;
  }
  return nullptr;
}

std::string TypeNames() {
  std::string s;
  for (const IndexTypeOps* e : kIndexTypes) s += std::string(s.empty() ? "" : " | ") + e->name;
  return s;
}

}  // namespace

const char* IndexTypeName(IndexType t) { return EntryOf(t).name; }

Result<IndexType> ParseIndexType(const std::string& s) {
  if (const IndexTypeOps* e = EntryNamed(s)) return e->type;
  return Status::InvalidArgument("unknown index type '" + s + "' (" + TypeNames() + ")");
}

void SearchStats::Add(const SearchStats& o) {
  structure_pages += o.structure_pages;
  structure_reads += o.structure_reads;
  vector_pages += o.vector_pages;
  vector_reads += o.vector_reads;
  round_trips += o.round_trips;
  codes_scored += o.codes_scored;
  vectors_reranked += o.vectors_reranked;
}

Status BuildIndex(VectorSource& source, const std::string& dir, const BuildOptions& options) {
  return EntryOf(options.type).build(source, dir, options);
}

Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options) {
  VX_ASSIGN_OR_RETURN(auto source, VectorSource::FromFile(base_path));
  return BuildIndex(*source, dir, options);
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
    const IndexTypeOps* e = EntryNamed(name);
    if (e == nullptr) {
      return Status::NotSupported(dir + ": index type '" + name + "' is not one this build of vx knows (" +
                                  TypeNames() + ")");
    }
    Result<std::unique_ptr<Index>> index = e->open(dir, m, options);
    if (index.ok() || attempt == 3) return index;
    auto now = ReadManifest(env, dir);
    if (!now.ok() || now->generation == m.generation) return index;
  }
}

Result<IndexOptions> IndexOptionsForMemory(const std::string& dir, uint64_t memory_bytes, Env* env) {
  if (env == nullptr) env = DefaultEnv();
  VX_ASSIGN_OR_RETURN(const Manifest m, ReadManifest(env, dir));
  const auto type = m.params.find("type");
  const IndexTypeOps* e = EntryNamed(type == m.params.end() ? "" : type->second);
  uint64_t structure = 0;
  for (const ManifestFile& f : m.files) {
    if (e != nullptr && f.name == e->structure_file) structure = f.size;
  }
  IndexOptions o;
  o.env = env;
  o.structure_cache_bytes = std::min(structure, memory_bytes * 3 / 4);
  o.vector_cache_bytes = memory_bytes - o.structure_cache_bytes;
  return o;
}

}  // namespace vx
