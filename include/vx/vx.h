/* vx's plain C API: build, open, search and close an index from any language
 * that can call C. A thin layer over vx/index.h (the C++ API); the options
 * carry the same names and defaults (pgvector's).
 *
 * Errors: every call that can fail returns a vx_code (VX_OK = 0) and, when
 * `err` is not NULL, fills it with the code and a message naming the file or
 * parameter. Nothing is printed and nothing exits the process.
 *
 * Thread-safety: a vx_index may be searched from any number of threads at
 * once; vx_close must not race with searches of the same index. */
#ifndef VX_VX_H_
#define VX_VX_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The same codes as vx::StatusCode. */
typedef enum vx_code {
  VX_OK = 0,
  VX_INVALID_ARGUMENT = 1, /* the caller passed something unusable */
  VX_NOT_FOUND = 2,        /* a named file or object does not exist */
  VX_CORRUPTION = 3,       /* data on disk fails its checks */
  VX_IO_ERROR = 4,         /* the OS reported an I/O failure */
  VX_NO_SPACE = 5,         /* ENOSPC / EDQUOT */
  VX_NOT_SUPPORTED = 6,
  VX_RESOURCE_EXHAUSTED = 7, /* a memory or size budget would be exceeded */
  VX_BUSY = 8,               /* held by another writer (a build is writing the index directory) */
  VX_CANCELLED = 9           /* the caller asked the operation to stop */
} vx_code;

typedef struct vx_error {
  vx_code code;
  char message[512]; /* NUL-terminated; truncated if longer */
} vx_error;

typedef struct vx_build_options {
  const char* type;         /* "hnsw" (default) or "ivf" */
  const char* metric;       /* "l2" (default), "ip" or "cosine" */
  uint32_t m;               /* HNSW, default 16 */
  uint32_t ef_construction; /* HNSW, default 64 */
  uint32_t lists;           /* IVF, 0 (default): pgvector's rule */
  uint32_t replicas;        /* IVF, default 0 */
  const char* quant;        /* "auto" (default; by serve_memory_bytes), "f16", "sq8", "pq:M", "pq4:M", "rabitq[:B]" */
  const char* storage;      /* "f32" (default) or "f16" */
  int threads;              /* 0 (default): all cores */
  uint64_t build_memory_bytes; /* default 8 GiB */
  const int64_t* keys; /* key_count keys, one per base row, distinct (copied); NULL (default): the row numbers */
  uint64_t key_count;
  uint64_t serve_memory_bytes; /* memory the index will be served with, for "auto"; 0 (default): this machine's */
} vx_build_options;

typedef struct vx_search_params {
  uint32_t k;         /* default 10 */
  uint32_t rerank;    /* 0 (default): HNSW ef_search, IVF max(100, 25 x probes) */
  uint32_t ef_search; /* HNSW, default 40 */
  uint32_t beam;      /* HNSW, default 4 */
  uint32_t probes;    /* IVF, default 1 */
} vx_search_params;

typedef struct vx_index vx_index;

/* Fill with the defaults. */
void vx_build_options_init(vx_build_options* options);
void vx_search_params_init(vx_search_params* params);

/* Builds an index of the vectors in `base_path` (.fbin, .fvecs, ...) into
 * directory `dir`. `options` NULL: the defaults. An index already in `dir`
 * serves until the new one is committed at the end, and stays whole if the
 * build fails. VX_BUSY: another build is writing `dir`; VX_NO_SPACE, before
 * any compute, when the disk has less free space than a lower bound of what
 * the build writes (the vectors file and the codes at least). */
vx_code vx_build(const char* base_path, const char* dir, const vx_build_options* options, vx_error* err);

/* Opens the index in `dir` with buffer pools of the given sizes (0: the C++
 * API's defaults, 64 MiB for structure pages and 16 MiB for vector pages).
 * Returns NULL on error. */
vx_index* vx_open(const char* dir, uint64_t structure_cache_bytes, uint64_t vector_cache_bytes, vx_error* err);
void vx_close(vx_index* index); /* NULL is allowed */

/* Reads the structure pages (HNSW graph, IVF lists) into the buffer pool, as
 * many as structure_cache_bytes holds, as pg_prewarm does for pgvector; sets
 * *pages (may be NULL) to the pages it left in the pool. */
vx_code vx_prewarm(const vx_index* index, uint64_t* pages, vx_error* err);

uint32_t vx_index_dim(const vx_index* index);
uint64_t vx_index_count(const vx_index* index);

/* The params->k nearest neighbours of `query` (dim floats), nearest first:
 * their keys (vx_build_options.keys; by default the row in the base file)
 * and exact distances (l2 squared, ip negated, cosine 1 - cos), written to
 * ids[0..*found) and distances[0..*found) (both
 * at least k long; `distances` may be NULL). *found < k only when the index
 * holds fewer than k vectors. `params` NULL: the defaults. */
vx_code vx_search(const vx_index* index, const float* query, const vx_search_params* params, int64_t* ids,
                  float* distances, uint32_t* found, vx_error* err);

#ifdef __cplusplus
}
#endif

#endif /* VX_VX_H_ */
