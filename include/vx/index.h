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

enum class IndexType { kHnsw, kIvf };
const char* IndexTypeName(IndexType t);  // "hnsw", "ivf"
Result<IndexType> ParseIndexType(const std::string& s);

// What a build needs. Defaults are pgvector's (HNSW: m = 16,
// ef_construction = 64; IVF: lists = rows/1000 up to 1M rows, sqrt(rows) above).
struct BuildOptions {
  IndexType type = IndexType::kHnsw;
  Metric metric = Metric::kL2;
  // HNSW
  uint32_t m = 16;                // neighbours per node on upper layers; 2*m on layer 0
  uint32_t ef_construction = 64;
  // IVF
  uint32_t lists = 0;     // 0: pgvector's rule
  uint32_t replicas = 0;  // extra lists a boundary vector may also go to (SPANN's closure rule)
  // Both
  // Codes: HNSW keeps them in RAM, IVF on its list pages.
  std::string quant = "auto";     // f16 | sq8 | pq:M | pq4:M | rabitq[:B] | auto (pq:dim/4, else sq8)
  ElementType storage = ElementType::kF32;  // full vectors on SSD: f32 or f16 (halfvec)
  int threads = 0;                // 0: all cores
  // HNSW holds the base vectors and the graph in memory and refuses, before
  // reading any vector, when that would exceed this budget (building larger
  // than RAM is not implemented for HNSW yet). IVF streams the base and
  // sizes its sample, blocks and list passes to fit the budget, refusing
  // only when not even the centroids and one block fit.
  uint64_t build_memory_bytes = 8ull << 30;
  size_t page_size = 4096;        // raised to fit one full vector per page
  bool reorder = true;            // HNSW: renumber nodes in BFS order for page locality
  uint64_t seed = 42;
  // Called with (done, total, phase) during long phases. Optional.
  std::function<void(uint64_t, uint64_t, const char*)> progress;
  Env* env = nullptr;             // nullptr: the default (io_uring or pread) Env
};

// Builds an index of the vectors in `base_path` into directory `dir`
// (created if missing). An index already in `dir` is replaced only when the
// new one's manifest is committed, the build's last step: until then it
// opens and serves as before, and a failed or crashed build leaves it whole
// (an index opened before keeps serving it until it is opened again).
// Busy when another build is writing `dir`; NoSpace, before any compute,
// when the file system has less free space than a lower bound of what the
// build writes (the vectors file and the codes at least).
Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options);

struct IndexOptions {
  // Buffer pool budget for the index's structure pages: HNSW graph pages,
  // IVF list pages (the pool's "graph" class).
  uint64_t graph_cache_bytes = 64ull << 20;
  uint64_t vector_cache_bytes = 16ull << 20;  // buffer pool budget for vector pages
  Env* env = nullptr;
};

struct SearchParams {
  uint32_t k = 10;
  uint32_t rerank = 0;     // candidates reranked by exact distance; 0: the default (Index::RerankDepth)
  uint32_t ef_search = 40; // HNSW
  uint32_t beam = 4;       // HNSW: graph nodes expanded per step (their missing pages read as one batch)
  uint32_t probes = 1;     // IVF: lists scanned (all their missing pages read as one batch)
};

struct SearchResult {
  int64_t id;      // row index in the base file
  float distance;  // exact distance (vx/types.h semantics)
};

// Per-query I/O counters.
struct SearchStats {
  uint64_t graph_pages = 0, graph_reads = 0;    // structure pages (graph / list) pinned / read from SSD
  uint64_t vector_pages = 0, vector_reads = 0;
  uint64_t round_trips = 0;                     // read submissions waited on
  uint64_t codes_scored = 0;
  // Candidates whose full vectors were read and compared: at most the rerank
  // depth, fewer where the codes' error bound (RaBitQ) ruled some out.
  uint64_t vectors_reranked = 0;
  void Add(const SearchStats& o);
};

struct IndexInfo {
  std::string type, quant;
  Metric metric = Metric::kL2;
  ElementType storage = ElementType::kF32;
  uint64_t count = 0;
  uint32_t dim = 0;
  uint32_t m = 0, ef_construction = 0, max_level = 0;  // HNSW
  uint32_t lists = 0, replicas = 0;                    // IVF
  uint64_t entries = 0;                                // IVF: list entries (count plus replicas)
  size_t page_size = 0;
  uint64_t graph_bytes = 0, vector_bytes = 0;  // on disk: structure (graph / lists) and vectors files
  uint64_t resident_bytes = 0;                 // always in RAM (HNSW: codes, upper layers, ids; IVF: centroids, list directory)
};

// Options whose buffer pool budgets add up to `memory_bytes`, split between
// the page classes of the index in `dir`: the structure class (HNSW graph,
// IVF lists) gets what its whole file needs, up to 3/4, since searches
// revisit it; vector pages, read about once per query, get the rest.
Result<IndexOptions> IndexOptionsForMemory(const std::string& dir, uint64_t memory_bytes, Env* env = nullptr);

class Index {
 public:
  // Opens the index's committed generation. An index stays usable while a
  // build replaces it in `dir` (it keeps the files it opened); open it again
  // to serve the new generation.
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const IndexOptions& options);
  virtual ~Index() = default;
  virtual const IndexInfo& info() const = 0;
  // The k nearest neighbours of `query` (dim floats), nearest first.
  virtual Status Search(const float* query, const SearchParams& params, std::vector<SearchResult>* out,
                        SearchStats* stats) const = 0;
  // The number of candidates a search with `params` reranks: `rerank` when
  // set, else HNSW's ef_search and IVF's max(100, 25 x probes), probes clamped
  // to the lists; never fewer than k. Under codes with an error bound (RaBitQ)
  // the candidates it rules out of the k nearest are not read
  // (SearchStats::vectors_reranked counts those that are). IVF's grows with
  // probes because the rows scanned, and so the code rank of the true
  // neighbours, grow with probes: a fixed 100 capped recall at 0.994 from
  // probes 8 on (pq:32, docs/BENCHMARKS.md).
  virtual uint32_t RerankDepth(const SearchParams& params) const = 0;
  // Reads the structure pages (HNSW graph, IVF lists) into the buffer pool,
  // as many as graph_cache_bytes holds, from the file's start on (HNSW's
  // node order puts the entry point's neighbourhood first), in batches of
  // up to 256 pages: pgvector's pg_prewarm for the index, so that the first
  // queries after an open do not each pay a round trip per graph step.
  // Returns the structure pages it left in the pool (read now or found
  // there). May run while searches run.
  virtual Result<uint64_t> Prewarm() const = 0;
};

}  // namespace vx
