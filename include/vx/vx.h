/* vx's plain C API: build, open, search and close an index from any language
 * that can call C. A thin layer over vx/index.h (the C++ API); the options
 * carry the same names and defaults (pgvector's).
 *
 * Errors: every call that can fail returns a vx_code (VX_OK = 0) and, when
 * `err` is not NULL, fills it with the code and a message naming the file or
 * parameter. Nothing is printed and nothing exits the process.
 *
 * Thread-safety: a vx_index may be searched from any number of threads at
 * once, and one opened with vx_open_writer written from any number of
 * threads beside them (their deletes share fsyncs); vx_close must not race
 * with other calls on the same index.
 *
 * Link with -lvx (pkg-config vx, or find_package(vx) and vx::vx). */
#ifndef VX_VX_H_
#define VX_VX_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default) /* libvx.so exports what this header declares */

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
  VX_BUSY = 8,               /* held by another writer (a build or a vx_open_writer holds the directory) */
  VX_CANCELLED = 9           /* the caller asked the operation to stop */
} vx_code;

typedef struct vx_error {
  vx_code code;
  char message[512]; /* NUL-terminated; truncated if longer */
} vx_error;

/* The library's version, "MAJOR.MINOR.PATCH"; the header's is VX_VERSION. */
#define VX_VERSION "0.1.0"
const char* vx_version(void);

/* Option and result structs start with `struct_size`, set by their _init
 * function (or to sizeof by the caller): a library newer than the caller's
 * header reads only the fields the caller's struct has and keeps its
 * defaults for the rest. A struct_size below the first version's size is
 * VX_INVALID_ARGUMENT. */

/* Called through a build with the work done and the total of its current
 * phase (reading, training, inserting, writing); return non-zero to cancel
 * the build, which then returns VX_CANCELLED and leaves the index already
 * in the directory as it was. Called from one thread at a time. */
typedef int (*vx_progress_fn)(uint64_t done, uint64_t total, const char* phase, void* user);

/* One attribute column for filtered search (vx::AttributeColumn): rows
 * values in base order. type "int": ints (int64); "float": floats (finite
 * doubles); "labels": row i's labels are labels[offsets[i] ..
 * offsets[i + 1]), offsets holding rows + 1 entries from 0. The arrays are
 * copied by the build. */
typedef struct vx_attribute_column {
  const char* name; /* [A-Za-z_][A-Za-z0-9_]*, distinct */
  const char* type; /* "int", "float" or "labels" */
  uint64_t rows;
  const int64_t* ints;
  const double* floats;
  const uint64_t* offsets;
  const int64_t* labels;
} vx_attribute_column;

typedef struct vx_build_options {
  size_t struct_size;
  const char* type;         /* "hnsw" (default) or "ivf" */
  const char* metric;       /* "l2" (default), "ip" or "cosine" */
  uint32_t m;               /* HNSW, default 16 */
  uint32_t ef_construction; /* HNSW, default 64 */
  uint32_t lists;           /* IVF, 0 (default): pgvector's rule */
  uint32_t replicas;        /* IVF, default 0 */
  const char* quant;        /* "auto" (default; by serve_memory_bytes), "f16", "sq8", "pq:M", "pq4:M", "rabitq[:B]" */
  const char* storage;      /* full vectors on SSD: "f32" (default) or "f16" (pgvector's halfvec) */
  int threads;              /* 0 (default): all cores */
  uint64_t build_memory_bytes; /* default 8 GiB */
  const int64_t* keys; /* key_count keys, one per base row, distinct (copied); NULL (default): the row numbers */
  uint64_t key_count;
  uint64_t serve_memory_bytes; /* memory the index will be served with, for "auto"; 0 (default): this machine's */
  vx_progress_fn progress;     /* NULL (default): none */
  void* progress_user;         /* passed to progress */
  /* Since the second version (struct_size beyond `progress_user`): */
  const vx_attribute_column* attributes; /* attribute_count columns; NULL (default): none (no filters) */
  uint32_t attribute_count;
} vx_build_options;

typedef struct vx_open_options {
  size_t struct_size;
  /* The memory the index is served with, in bytes, split between the two
   * buffer pools as vxctl query --memory does (structure pages first, up to
   * 3/4). 0 (default): the two budgets below. */
  uint64_t memory_bytes;
  uint64_t structure_cache_bytes; /* 0 (default): 64 MiB; like shared_buffers, for graph or list pages */
  uint64_t vector_cache_bytes;    /* 0 (default): 16 MiB; for full-vector pages read by the rerank */
  uint32_t max_searchers;         /* searches at once; 0 (default): the machine's hardware threads */
} vx_open_options;

typedef struct vx_search_params {
  size_t struct_size;
  uint32_t k;         /* default 10 */
  uint32_t rerank;    /* 0 (default): HNSW ef_search, IVF max(100, 25 x probes) */
  uint32_t ef_search; /* HNSW, default 40 */
  uint32_t beam;      /* HNSW, default 4 */
  uint32_t probes;    /* IVF, default 1 */
  /* Since the second version (struct_size beyond `probes`): only rows this
   * filter expression matches (vx::Filter), e.g. "tenant_id = 42 AND tags
   * HAS 7"; the search returns min(k, matching rows). NULL (default): all. */
  const char* filter;
  /* Since the third version: NULL (default), or where a filtered search
   * says its plan: one vx_filter_stats a query (vx_search: 1; vx_search_batch:
   * n), zero for a query without a filter. */
  struct vx_filter_stats* filter_stats;
} vx_search_params;

/* One query's work (vx::SearchStats). */
typedef struct vx_search_stats {
  uint64_t structure_pages, structure_reads; /* graph or list pages pinned / read from SSD */
  uint64_t vector_pages, vector_reads;       /* full-vector pages pinned / read from SSD */
  uint64_t round_trips;                      /* read submissions waited on */
  uint64_t codes_scored;
  uint64_t vectors_reranked; /* candidates whose full vectors were read and compared */
} vx_search_stats;

/* A filtered query's plan (vx::SearchStats), as pgvector's EXPLAIN says
 * it: the rows the filter matched (less the deleted), the most the scan
 * plan takes, which plan ran (one of scans and walks is 1; fallbacks 1: a
 * walk found fewer than k and the scan ran after it), and the rows inserted
 * since the build that it scored exactly. */
typedef struct vx_filter_stats {
  uint64_t filter_rows, filter_scan_limit;
  uint64_t filter_scans, filter_walks, filter_fallbacks;
  uint64_t delta_rows_scanned;
} vx_filter_stats;

/* What an open index is (vx::IndexInfo). The strings belong to the index
 * and live until vx_close. */
typedef struct vx_index_info {
  size_t struct_size;
  const char* type;         /* "hnsw" or "ivf" */
  const char* metric;       /* "l2", "ip" or "cosine" */
  const char* quant;        /* the codes, e.g. "sq8" */
  const char* quant_choice; /* what "auto" chose and why; "" when the build named its codes */
  const char* storage;      /* "f32" or "f16" */
  uint64_t count;
  uint32_t dim;
  uint32_t m, ef_construction, max_level; /* HNSW; 0 for IVF */
  uint32_t lists, replicas;               /* IVF; 0 for HNSW */
  uint64_t page_size;
  uint64_t structure_bytes, vector_bytes;             /* on disk */
  uint64_t resident_bytes;                            /* always in RAM: codes, upper layers or centroids, keys */
  uint64_t structure_cache_bytes, vector_cache_bytes; /* the buffer pools' budgets, as opened */
  uint64_t generation;
  /* Since the first version (struct_size beyond `generation`): */
  uint64_t deleted;   /* rows deleted (not returned by searches); a writer's is current */
  uint64_t wal_bytes; /* the write-ahead log not yet checkpointed */
  uint32_t segments;  /* committed on top of the generation (e.g. tombstones) */
  /* Since the second version (struct_size beyond `segments`): */
  uint64_t inserted;    /* rows inserted since the build (live rows: count + inserted - deleted) */
  uint64_t write_bytes; /* RAM the writes hold: inserted rows, tombstones */
} vx_index_info;

typedef struct vx_writer_options {
  size_t struct_size;
  /* 1 (default): a write returns once its WAL record is on disk (fdatasync,
   * shared by writes that arrive meanwhile). 0: once written to the OS, like
   * PostgreSQL's synchronous_commit = off: a crash of the process loses
   * nothing, a power cut may lose the last acknowledged writes (whole
   * batches, never part of one). */
  int sync_on_append;
  /* Since the second version: RAM for the rows inserted since the build
   * (searched exactly beside the index); an insert past it is refused with
   * VX_RESOURCE_EXHAUSTED. Default 256 MiB. */
  uint64_t delta_memory_bytes;
  /* Since the third version: once the inserted rows hold this fraction of
   * delta_memory_bytes the writer vacuums in the background (vx_vacuum,
   * which merges them into the graph) on auto_reindex_threads threads;
   * 0: never.
   * Defaults 0.5 and 1. */
  double auto_reindex_at;
  int auto_reindex_threads;
} vx_writer_options;

typedef struct vx_index vx_index;

/* Fill with the defaults (and struct_size). */
void vx_build_options_init(vx_build_options* options);
void vx_open_options_init(vx_open_options* options);
void vx_search_params_init(vx_search_params* params);
void vx_writer_options_init(vx_writer_options* options);

/* Builds an index of the vectors in `base_path` (.fbin, .fvecs, .npy, ...)
 * into directory `dir`. `options` NULL: the defaults. An index already in
 * `dir` serves until the new one is committed at the end, and stays whole if
 * the build fails. VX_BUSY: another build is writing `dir`; VX_NO_SPACE,
 * before any compute, when the disk has less free space than a lower bound
 * of what the build writes (the vectors file and the codes at least);
 * VX_CANCELLED when options->progress asked to stop. */
vx_code vx_build(const char* base_path, const char* dir, const vx_build_options* options, vx_error* err);
/* The same from `count` rows of `dim` components at `rows` (row-major; read,
 * not kept), each of `element_type`: "f32" (float), "f16" (IEEE binary16),
 * "u8" or "i8". A NaN or Inf component is VX_INVALID_ARGUMENT naming the
 * row. */
vx_code vx_build_from_array(const void* rows, const char* element_type, uint64_t count, uint32_t dim, const char* dir,
                            const vx_build_options* options, vx_error* err);

/* Rebuilds the index in `dir` from its own live rows (vx::Reindex, like
 * REINDEX; vx_reindex_concurrently with a writer of its own): deleted rows
 * reclaimed, inserted ones linked in, the WAL and segments emptied. Of `options` (NULL: the defaults) it takes threads,
 * build_memory_bytes and progress; the rest are the index's. VX_BUSY while a
 * writer holds the directory. */
vx_code vx_reindex(const char* dir, const vx_build_options* options, vx_error* err);

/* Opens the index in `dir`. `options` NULL: the defaults. Returns NULL on
 * error. */
vx_index* vx_open(const char* dir, const vx_open_options* options, vx_error* err);
/* Closes the index. The handle stays an invalid handle: any later call with
 * it (vx_close included) is VX_INVALID_ARGUMENT "index is closed", not a
 * crash; it must not race with calls still running on the index. NULL is
 * allowed. */
void vx_close(vx_index* index);

/* Reads the structure pages (HNSW graph, IVF lists) into the buffer pool, as
 * many as its budget holds, as pg_prewarm does for pgvector; sets *pages
 * (may be NULL) to the pages it left in the pool. */
vx_code vx_prewarm(const vx_index* index, uint64_t* pages, vx_error* err);

vx_code vx_index_info_get(const vx_index* index, vx_index_info* info, vx_error* err);
uint32_t vx_index_dim(const vx_index* index);   /* 0 for NULL or a closed handle */
uint64_t vx_index_count(const vx_index* index); /* 0 for NULL or a closed handle */

/* The params->k nearest neighbours of `query` (query_dim floats, which must
 * be the index's dim), nearest first: their keys (vx_build_options.keys; by
 * default the row in the base) and exact distances (l2 squared, ip negated,
 * cosine 1 - cos), written to ids[0..*found) and distances[0..*found) (both
 * at least k long; `distances` and `stats` may be NULL). *found < k only
 * when the index holds fewer than k vectors. `params` NULL: the defaults. */
vx_code vx_search(const vx_index* index, const float* query, uint32_t query_dim, const vx_search_params* params,
                  int64_t* ids, float* distances, uint32_t* found, vx_search_stats* stats, vx_error* err);

/* `n` queries of `query_dim` floats at `queries` (row-major) on `threads`
 * threads (0: all cores): query i's results go to ids[i*k ..] and
 * distances[i*k ..] (n*k each; `distances`, `found` (n) and `stats` (n) may
 * be NULL); places past a query's found are -1 and INFINITY. The first
 * failing query's error is returned, naming it. */
vx_code vx_search_batch(const vx_index* index, const float* queries, uint64_t n, uint32_t query_dim,
                        const vx_search_params* params, int threads, int64_t* ids, float* distances, uint32_t* found,
                        vx_search_stats* stats, vx_error* err);

/* Writes (vx::IndexWriter). vx_open_writer opens the index in `dir` as
 * vx_open does, and for writing: it replays the write-ahead log and holds
 * the directory until vx_close (a second writer or a build is VX_BUSY).
 * The handle searches as any other and sees every acknowledged write; every
 * index opened after a write returns sees it too. `writer` NULL: the
 * defaults. A batch is atomic: refused or failed, nothing of it applies;
 * after a crash it is there whole or not at all. The write calls on a
 * handle from vx_open are VX_INVALID_ARGUMENT. */
vx_index* vx_open_writer(const char* dir, const vx_open_options* options, const vx_writer_options* writer,
                         vx_error* err);
/* Deletes the rows of n keys. VX_NOT_FOUND naming the first key that does
 * not exist or is already deleted, VX_INVALID_ARGUMENT naming a key
 * repeated in the batch, VX_BUSY naming a key a concurrent call is
 * deleting. */
vx_code vx_delete(vx_index* index, const int64_t* keys, uint64_t n, vx_error* err);
/* Inserts n rows of `dim` floats under n keys (vx::IndexWriter::Insert):
 * VX_INVALID_ARGUMENT naming the key for a key that is live (vx_upsert
 * replaces it), repeated in the batch, or a vector with NaN or Inf. An
 * index built with attributes takes them through vx_insert_attrs. */
vx_code vx_insert(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim, vx_error* err);
vx_code vx_upsert(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim, vx_error* err);
/* vx_insert and vx_upsert with the rows' attributes: attribute_count
 * columns of n rows each (vx_attribute_column, copied). An index built
 * with attribute columns takes every one of them, by name in any order (an
 * "int" column for a "float" one), and one built without takes none;
 * VX_INVALID_ARGUMENT names a column missing, unknown, of another type or
 * row count. Filters match the rows by these values. */
vx_code vx_insert_attrs(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim,
                        const vx_attribute_column* attributes, uint32_t attribute_count, vx_error* err);
vx_code vx_upsert_attrs(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim,
                        const vx_attribute_column* attributes, uint32_t attribute_count, vx_error* err);
/* Folds the write-ahead log into a segment committed with the manifest,
 * then empties the log; searches go on meanwhile. */
vx_code vx_checkpoint(vx_index* index, vx_error* err);
/* vx::IndexWriter::Reindex, like REINDEX CONCURRENTLY: rebuilds the index
 * from its live rows while writes and searches on the handle go on from
 * other threads; the writes made meanwhile are carried into the new
 * generation, which the handle serves from the commit on. Of `options`
 * (NULL: the defaults) it takes threads, build_memory_bytes and progress;
 * the rest are the index's. VX_BUSY while another reindex runs. */
vx_code vx_reindex_concurrently(vx_index* index, const vx_build_options* options, vx_error* err);
/* Reclaims the deleted rows and merges the inserted ones into the index
 * from its own structure (IndexWriter::Vacuum), beside writes and searches
 * as vx_reindex_concurrently; `options` as it takes them (NULL: the
 * defaults; threads bound the CPU it takes). VX_BUSY while a reindex or
 * vacuum runs. */
vx_code vx_vacuum(vx_index* index, const vx_build_options* options, vx_error* err);
/* 1 when `key` names a row that is not deleted; 0 otherwise, and for a
 * handle not opened with vx_open_writer. */
int vx_contains(const vx_index* index, int64_t key);

/* Writes the committed generation of the index in `dir` to the archive
 * `archive` (zstd `level` 1..22, 0: 3), while the index serves; the archive
 * appears only when whole. VX_CORRUPTION when the index is damaged. */
vx_code vx_snapshot(const char* dir, const char* archive, int level, vx_error* err);
/* Restores `archive` into `dir`, beside or over an index there, committed
 * only once every frame and file checks out: a corrupt or truncated archive
 * (VX_CORRUPTION, naming the offset) leaves `dir` as it was. */
vx_code vx_restore(const char* archive, const char* dir, vx_error* err);

/* Checks the index in `dir` as vxctl verify does: every file and page.
 * *problems (may be NULL) gets the number of problems found, and `report`
 * (report_size bytes, may be NULL) their lines, truncated. VX_OK when the
 * index is whole; VX_CORRUPTION when problems were found (err names the
 * first); another code when there was nothing to check against (no readable
 * manifest). */
vx_code vx_verify(const char* dir, uint64_t* problems, char* report, size_t report_size, vx_error* err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* VX_VX_H_ */
