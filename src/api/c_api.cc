// vx/vx.h: the C API over vx/index.h. Every entry point converts a Status to
// a vx_code plus message and lets no exception out (a failed allocation
// becomes VX_RESOURCE_EXHAUSTED).
#include "vx/vx.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "vx/index.h"

struct vx_index {
  std::unique_ptr<vx::Index> index;
};

namespace {

static_assert(VX_RESOURCE_EXHAUSTED == static_cast<int>(vx::StatusCode::kResourceExhausted) &&
              VX_CORRUPTION == static_cast<int>(vx::StatusCode::kCorruption) &&
              VX_IO_ERROR == static_cast<int>(vx::StatusCode::kIOError) &&
              VX_BUSY == static_cast<int>(vx::StatusCode::kBusy) &&
              VX_CANCELLED == static_cast<int>(vx::StatusCode::kCancelled));

vx_code Report(const vx::Status& s, vx_error* err) {
  const vx_code code = static_cast<vx_code>(s.code());
  if (err) {
    err->code = code;
    const std::string m = s.ok() ? "" : s.ToString();
    const size_t n = std::min(m.size(), sizeof(err->message) - 1);
    std::memcpy(err->message, m.data(), n);
    err->message[n] = '\0';
  }
  return code;
}

// Runs `fn` (returning a Status) with exceptions turned into statuses.
template <class Fn>
vx_code Guard(vx_error* err, Fn&& fn) {
  try {
    return Report(fn(), err);
  } catch (const std::bad_alloc&) {
    return Report(vx::Status::ResourceExhausted("out of memory"), err);
  } catch (const std::exception& e) {
    return Report(vx::Status::InvalidArgument(e.what()), err);
  }
}

vx::Status Missing(const char* what) { return vx::Status::InvalidArgument(std::string(what) + " is NULL"); }

}  // namespace

extern "C" {

void vx_build_options_init(vx_build_options* o) {
  const vx::BuildOptions d;
  o->type = "hnsw";
  o->metric = "l2";
  o->m = d.m;
  o->ef_construction = d.ef_construction;
  o->lists = d.lists;
  o->replicas = d.replicas;
  o->quant = "auto";
  o->storage = "f32";
  o->threads = d.threads;
  o->build_memory_bytes = d.build_memory_bytes;
  o->keys = nullptr;
  o->key_count = 0;
  o->serve_memory_bytes = 0;
}

void vx_search_params_init(vx_search_params* p) {
  const vx::SearchParams d;
  p->k = d.k;
  p->rerank = d.rerank;
  p->ef_search = d.ef_search;
  p->beam = d.beam;
  p->probes = d.probes;
}

vx_code vx_build(const char* base_path, const char* dir, const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    if (!base_path) return Missing("base_path");
    if (!dir) return Missing("dir");
    vx_build_options c;
    vx_build_options_init(&c);
    if (options) c = *options;
    vx::BuildOptions o;
    VX_ASSIGN_OR_RETURN(o.type, vx::ParseIndexType(c.type ? c.type : "hnsw"));
    VX_ASSIGN_OR_RETURN(o.metric, vx::ParseMetric(c.metric ? c.metric : "l2"));
    VX_ASSIGN_OR_RETURN(o.storage, vx::ParseElementType(c.storage ? c.storage : "f32"));
    o.m = c.m;
    o.ef_construction = c.ef_construction;
    o.lists = c.lists;
    o.replicas = c.replicas;
    o.quant = c.quant ? c.quant : "auto";
    o.threads = c.threads;
    o.build_memory_bytes = c.build_memory_bytes;
    o.serve_memory_bytes = c.serve_memory_bytes;
    if (c.keys) o.keys.assign(c.keys, c.keys + c.key_count);
    return vx::BuildIndex(base_path, dir, o);
  });
}

vx_index* vx_open(const char* dir, uint64_t structure_cache_bytes, uint64_t vector_cache_bytes, vx_error* err) {
  vx_index* out = nullptr;
  Guard(err, [&]() -> vx::Status {
    if (!dir) return Missing("dir");
    vx::IndexOptions o;
    if (structure_cache_bytes) o.structure_cache_bytes = structure_cache_bytes;
    if (vector_cache_bytes) o.vector_cache_bytes = vector_cache_bytes;
    VX_ASSIGN_OR_RETURN(auto index, vx::Index::Open(dir, o));
    out = new vx_index{std::move(index)};
    return vx::Status::Ok();
  });
  return out;
}

void vx_close(vx_index* index) { delete index; }

vx_code vx_prewarm(const vx_index* index, uint64_t* pages, vx_error* err) {
  if (pages) *pages = 0;
  return Guard(err, [&]() -> vx::Status {
    if (!index) return Missing("index");
    VX_ASSIGN_OR_RETURN(const uint64_t n, index->index->Prewarm());
    if (pages) *pages = n;
    return vx::Status::Ok();
  });
}

uint32_t vx_index_dim(const vx_index* index) { return index ? index->index->info().dim : 0; }
uint64_t vx_index_count(const vx_index* index) { return index ? index->index->info().count : 0; }

vx_code vx_search(const vx_index* index, const float* query, const vx_search_params* params, int64_t* ids,
                  float* distances, uint32_t* found, vx_error* err) {
  if (found) *found = 0;
  return Guard(err, [&]() -> vx::Status {
    if (!index) return Missing("index");
    if (!query) return Missing("query");
    if (!ids) return Missing("ids");
    vx_search_params c;
    vx_search_params_init(&c);
    if (params) c = *params;
    const vx::SearchParams p{c.k, c.rerank, c.ef_search, c.beam, c.probes};
    thread_local std::vector<vx::SearchResult> results;
    VX_RETURN_IF_ERROR(index->index->Search(query, p, &results, nullptr));
    for (size_t i = 0; i < results.size(); ++i) {
      ids[i] = results[i].key;
      if (distances) distances[i] = results[i].distance;
    }
    if (found) *found = static_cast<uint32_t>(results.size());
    return vx::Status::Ok();
  });
}

}  // extern "C"
