// The public index API: build an index directory from a vector file, open it,
// search it. Library first: vxctl is a thin layer over this header.
//
// Thread-safety: an opened Index may be searched from any number of threads
// at once. Build is single-call (it uses `threads` threads internally).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vx/status.h"
#include "vx/types.h"

namespace vx {

class Env;

// What a build needs. Defaults are pgvector's (m = 16, ef_construction = 64).
struct BuildOptions {
  Metric metric = Metric::kL2;
  uint32_t m = 16;                // neighbours per node on upper layers; 2*m on layer 0
  uint32_t ef_construction = 64;
  std::string quant = "auto";     // codes kept in RAM: f16 | sq8 | pq:M | rabitq | auto (pq:dim/4, else sq8)
  ElementType storage = ElementType::kF32;  // full vectors on SSD: f32 or f16 (halfvec)
  int threads = 0;                // 0: all cores
  // The build holds the base vectors and the graph in memory; it refuses,
  // before reading any vector, when that would exceed this budget
  // (building larger than RAM is not implemented yet).
  uint64_t build_memory_bytes = 8ull << 30;
  size_t page_size = 4096;        // raised to fit one full vector per page
  bool reorder = true;            // renumber nodes in BFS order for page locality
  uint64_t seed = 42;
  // Called with (done, total, phase) during long phases. Optional.
  std::function<void(uint64_t, uint64_t, const char*)> progress;
  Env* env = nullptr;             // nullptr: the default (io_uring or pread) Env
};

// Builds an HNSW index of the vectors in `base_path` into directory `dir`
// (created if missing). The manifest is committed last, so a crashed build
// leaves no openable index; rebuilding over an index that is open elsewhere
// is not supported yet (files are rewritten in place; versioned files are
// the planned fix).
Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options);

struct IndexOptions {
  uint64_t graph_cache_bytes = 64ull << 20;   // buffer pool budget for graph pages
  uint64_t vector_cache_bytes = 16ull << 20;  // buffer pool budget for vector pages
  Env* env = nullptr;
};

struct SearchParams {
  uint32_t k = 10;
  uint32_t ef_search = 40;
  uint32_t rerank = 0;  // candidates reranked by exact distance; 0: ef_search
  uint32_t beam = 4;    // graph nodes expanded per step (their missing pages read as one batch)
};

struct SearchResult {
  int64_t id;      // row index in the base file
  float distance;  // exact distance (vx/types.h semantics)
};

// Per-query I/O counters.
struct SearchStats {
  uint64_t graph_pages = 0, graph_reads = 0;    // pages pinned / read from SSD
  uint64_t vector_pages = 0, vector_reads = 0;
  uint64_t round_trips = 0;                     // read submissions waited on
  uint64_t codes_scored = 0;
  void Add(const SearchStats& o);
};

struct IndexInfo {
  std::string type, quant;
  Metric metric = Metric::kL2;
  ElementType storage = ElementType::kF32;
  uint64_t count = 0;
  uint32_t dim = 0, m = 0, ef_construction = 0, max_level = 0;
  size_t page_size = 0;
  uint64_t graph_bytes = 0, vector_bytes = 0;  // on disk
  uint64_t resident_bytes = 0;                 // codes + upper layers + ids, always in RAM
};

class Index {
 public:
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const IndexOptions& options);
  virtual ~Index() = default;
  virtual const IndexInfo& info() const = 0;
  // The k nearest neighbours of `query` (dim floats), nearest first.
  virtual Status Search(const float* query, const SearchParams& params, std::vector<SearchResult>* out,
                        SearchStats* stats) const = 0;
};

}  // namespace vx
