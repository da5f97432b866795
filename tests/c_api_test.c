/* The C API, compiled as C (so vx.h must be valid C): build an IVF and an
 * HNSW index from a generated file, search them, compare with brute force,
 * and check that errors come back as codes with messages. Exits non-zero on
 * the first failure, printing what failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vx/vx.h"

enum { kRows = 3000, kDim = 24, kQueries = 20, kK = 10 };

static int failures = 0;
#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                              \
      fprintf(stderr, "\n");                                     \
      ++failures;                                                \
    }                                                            \
  } while (0)

static float base[kRows * kDim], queries[kQueries * kDim];

/* Deterministic clustered data (xorshift; 12 centres). */
static uint64_t rng_state = 88172645463325252ull;
static float Uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0));
}
static void Generate(void) {
  float centres[12 * kDim];
  for (int i = 0; i < 12 * kDim; ++i) centres[i] = 10.0f * Uniform();
  for (int r = 0; r < kRows + kQueries; ++r) {
    float* v = r < kRows ? base + r * kDim : queries + (r - kRows) * kDim;
    const float* c = centres + (r % 12) * kDim;
    for (int j = 0; j < kDim; ++j) v[j] = c[j] + Uniform() - 0.5f;
  }
}

static float L2(const float* a, const float* b) {
  float s = 0;
  for (int j = 0; j < kDim; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/* The exact k nearest rows of query q (by l2), nearest first. */
static void Exact(const float* q, int64_t* out) {
  float best[kK];
  for (int i = 0; i < kK; ++i) best[i] = INFINITY, out[i] = -1;
  for (int r = 0; r < kRows; ++r) {
    const float d = L2(q, base + r * kDim);
    if (d >= best[kK - 1]) continue;
    int i = kK - 1;
    while (i > 0 && best[i - 1] > d) best[i] = best[i - 1], out[i] = out[i - 1], --i;
    best[i] = d, out[i] = r;
  }
}

/* Build progress: counts calls and finished phases; cancels on the first
 * call when asked. */
struct Progress {
  int calls, finished_phases, cancel;
};
static int CountProgress(uint64_t done, uint64_t total, const char* phase, void* user) {
  struct Progress* p = user;
  ++p->calls;
  if (done == total && phase != NULL) ++p->finished_phases;
  return p->cancel;
}

static int WriteBase(const char* path) {
  FILE* f = fopen(path, "wb");
  if (!f) return 0;
  const uint32_t head[2] = {kRows, kDim};
  const int ok = fwrite(head, sizeof head, 1, f) == 1 && fwrite(base, sizeof base, 1, f) == 1;
  return fclose(f) == 0 && ok;
}

/* Recall@k of the index against brute force; also checks that distances are
 * the exact l2 of the returned rows and come nearest first. */
static double Recall(const vx_index* index, const vx_search_params* p) {
  int hits = 0;
  for (int qi = 0; qi < kQueries; ++qi) {
    const float* q = queries + qi * kDim;
    int64_t ids[kK], want[kK];
    float dist[kK];
    uint32_t found = 0;
    vx_error err;
    const vx_code c = vx_search(index, q, kDim, p, ids, dist, &found, NULL, &err);
    CHECK(c == VX_OK, "search: %s", err.message);
    CHECK(found == kK, "found %u", found);
    Exact(q, want);
    for (uint32_t i = 0; i < found; ++i) {
      CHECK(ids[i] >= 0 && ids[i] < kRows, "id %lld", (long long)ids[i]);
      if (ids[i] < 0 || ids[i] >= kRows) continue;
      const float d = L2(q, base + ids[i] * kDim);
      CHECK(fabsf(dist[i] - d) <= 1e-3f * (1 + d), "distance %g, exact %g", dist[i], d);
      CHECK(i == 0 || dist[i - 1] <= dist[i], "not sorted at %u", i);
      for (int j = 0; j < kK; ++j) hits += ids[i] == want[j];
    }
  }
  return (double)hits / (kQueries * kK);
}

int main(void) {
  Generate();
  char dir[] = "/tmp/vx_c_api_XXXXXX";
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  char path[256], ivf[256], hnsw[256];
  snprintf(path, sizeof path, "%s/base.fbin", dir);
  snprintf(ivf, sizeof ivf, "%s/ivf", dir);
  snprintf(hnsw, sizeof hnsw, "%s/hnsw", dir);
  CHECK(WriteBase(path), "writing %s", path);
  vx_error err;

  /* IVF, every list probed and every candidate reranked: exact search. */
  vx_build_options o;
  vx_build_options_init(&o);
  CHECK(o.m == 16 && o.ef_construction == 64 && strcmp(o.type, "hnsw") == 0, "pgvector's defaults");
  CHECK(strcmp(o.quant, "auto") == 0 && o.serve_memory_bytes == 0, "auto codes for this machine's memory by default");
  o.type = "ivf";
  o.lists = 8;
  o.quant = "sq8";
  o.threads = 2;
  CHECK(vx_build(path, ivf, &o, &err) == VX_OK, "build ivf: %s", err.message);
  vx_open_options oo;
  vx_open_options_init(&oo);
  oo.structure_cache_bytes = oo.vector_cache_bytes = 1 << 20;
  vx_index* index = vx_open(ivf, &oo, &err);
  CHECK(index != NULL, "open ivf: %s", err.message);
  if (index) {
    CHECK(vx_index_dim(index) == kDim && vx_index_count(index) == kRows, "dim %u count %llu", vx_index_dim(index),
          (unsigned long long)vx_index_count(index));
    vx_search_params p;
    vx_search_params_init(&p);
    CHECK(p.k == 10 && p.ef_search == 40 && p.probes == 1, "search defaults");
    p.probes = 8;
    p.rerank = kRows;
    const double r = Recall(index, &p);
    CHECK(r == 1.0, "ivf all probes, full rerank: recall %.3f", r);
    p.k = 0;
    int64_t ids[kK];
    uint32_t found = 7;
    CHECK(vx_search(index, queries, kDim, &p, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT && found == 0,
          "k = 0 accepted");
    CHECK(strstr(err.message, "k must be") != NULL, "message: %s", err.message);
    CHECK(vx_search(index, NULL, kDim, NULL, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT,
          "NULL query accepted");
    vx_close(index);
  }

  /* HNSW with the defaults (NULL options and params). */
  CHECK(vx_build(path, hnsw, NULL, &err) == VX_OK, "build hnsw: %s", err.message);
  index = vx_open(hnsw, NULL, &err);
  CHECK(index != NULL, "open hnsw: %s", err.message);
  if (index) {
    uint64_t pages = 0;
    CHECK(vx_prewarm(index, &pages, &err) == VX_OK && pages > 0, "prewarm: %llu pages, %s", (unsigned long long)pages,
          err.message);
    const double r = Recall(index, NULL);
    CHECK(r >= 0.9, "hnsw recall %.3f", r);
    vx_close(index);
  }
  CHECK(vx_prewarm(NULL, NULL, &err) == VX_INVALID_ARGUMENT, "prewarm of NULL accepted");

  /* A budget far above the index is cut to its files: the open succeeds. */
  oo.structure_cache_bytes = oo.vector_cache_bytes = UINT64_MAX / 4;
  index = vx_open(hnsw, &oo, &err);
  CHECK(index != NULL, "open with a huge budget: %s", err.message);
  if (index) {
    const double r = Recall(index, NULL);
    CHECK(r >= 0.9, "hnsw recall with a huge budget %.3f", r);
    vx_close(index);
  }

  /* NaN and Inf queries are refused, naming the component. */
  index = vx_open(hnsw, NULL, &err);
  if (index) {
    float q[kDim];
    int64_t ids[kK];
    uint32_t found = 9;
    memcpy(q, queries, sizeof q);
    q[5] = NAN;
    CHECK(vx_search(index, q, kDim, NULL, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT && found == 0,
          "NaN query accepted");
    CHECK(strstr(err.message, "component 5 is NaN") != NULL, "message: %s", err.message);
    q[5] = INFINITY;
    CHECK(vx_search(index, q, kDim, NULL, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT, "Inf query accepted");
    vx_close(index);
  }

  /* Keys: row r gets key 7e9 + 3r; searches return keys, a repeat is refused. */
  {
    static int64_t keys[kRows];
    for (int r = 0; r < kRows; ++r) keys[r] = 7000000000ll + 3ll * r;
    char keyed[256];
    snprintf(keyed, sizeof keyed, "%s/keyed", dir);
    vx_build_options k;
    vx_build_options_init(&k);
    CHECK(k.keys == NULL && k.key_count == 0, "keys default to the rows");
    k.keys = keys;
    k.key_count = kRows;
    k.quant = "sq8";
    CHECK(vx_build(path, keyed, &k, &err) == VX_OK, "build with keys: %s", err.message);
    vx_index* by_key = vx_open(keyed, NULL, &err);
    CHECK(by_key != NULL, "open keyed: %s", err.message);
    if (by_key) {
      int64_t got[kK], want[kK];
      uint32_t found = 0;
      CHECK(vx_search(by_key, queries, kDim, NULL, got, NULL, &found, NULL, &err) == VX_OK && found == kK,
            "search keyed: %s", err.message);
      Exact(queries, want);
      int hits = 0;
      for (uint32_t i = 0; i < found; ++i) {
        CHECK(got[i] >= keys[0] && (got[i] - keys[0]) % 3 == 0, "key %lld is not one given", (long long)got[i]);
        for (int j = 0; j < kK; ++j) hits += got[i] == keys[want[j]];
      }
      CHECK(hits >= 8, "keyed search found %d of the 10 nearest keys", hits);
      vx_close(by_key);
    }
    /* Deletes: the 10 nearest keys of query 0 deleted through a writer are
     * gone from its searches, from a second opening, and after a
     * checkpoint; a refused batch names its key. */
    vx_writer_options wo;
    vx_writer_options_init(&wo);
    CHECK(wo.sync_on_append == 1, "durable appends by default");
    vx_index* writer = vx_open_writer(keyed, NULL, &wo, &err);
    CHECK(writer != NULL, "open writer: %s", err.message);
    if (writer) {
      CHECK(vx_open_writer(keyed, NULL, NULL, &err) == NULL && err.code == VX_BUSY, "a second writer: %s", err.message);
      int64_t near[kK], dead[kK];
      uint32_t found = 0;
      CHECK(vx_search(writer, queries, kDim, NULL, near, NULL, &found, NULL, &err) == VX_OK && found == kK,
            "search writer: %s", err.message);
      CHECK(vx_delete(writer, near, kK, &err) == VX_OK, "delete: %s", err.message);
      CHECK(vx_contains(writer, near[0]) == 0 && vx_contains(writer, keys[kRows - 1]) == 1, "contains");
      int64_t bad[2] = {keys[1], 5};
      CHECK(vx_delete(writer, bad, 2, &err) == VX_NOT_FOUND && strstr(err.message, "key 5 ") != NULL,
            "delete of a missing key: %s", err.message);
      CHECK(vx_contains(writer, keys[1]) == 1, "a refused batch applied");
      vx_index* reader = vx_open(keyed, NULL, &err);
      CHECK(reader != NULL, "open beside the writer: %s", err.message);
      for (int pass = 0; pass < 3; ++pass) {
        const vx_index* which = pass == 0 ? writer : reader;
        if (pass == 2) {
          CHECK(vx_checkpoint(writer, &err) == VX_OK, "checkpoint: %s", err.message);
          vx_close(reader);
          reader = vx_open(keyed, NULL, &err);
          which = reader;
        }
        if (!which) continue;
        CHECK(vx_search(which, queries, kDim, NULL, dead, NULL, &found, NULL, &err) == VX_OK && found == kK,
              "search after delete (pass %d): %s", pass, err.message);
        for (int i = 0; i < kK; ++i)
          for (int j = 0; j < kK; ++j) CHECK(dead[i] != near[j], "deleted key %lld returned", (long long)near[j]);
        vx_index_info info;
        info.struct_size = sizeof info;
        CHECK(vx_index_info_get(which, &info, &err) == VX_OK && info.deleted == kK, "deleted %llu (pass %d)",
              (unsigned long long)info.deleted, pass);
        CHECK(pass != 2 || (info.segments == 1 && info.wal_bytes < 64), "after checkpoint: %u segments, %llu WAL bytes",
              info.segments, (unsigned long long)info.wal_bytes);
      }
      CHECK(vx_delete(reader, near, 1, &err) == VX_INVALID_ARGUMENT && strstr(err.message, "read-only") != NULL,
            "delete through a read-only handle: %s", err.message);
      /* Inserts: query 0 inserted as a row is its own nearest; a live key
       * or a wrong dimension is refused; an upsert replaces the row. */
      CHECK(wo.delta_memory_bytes == 256ull << 20, "delta memory default %llu",
            (unsigned long long)wo.delta_memory_bytes);
      CHECK(vx_insert(writer, keys + 1, base, 1, kDim, &err) == VX_INVALID_ARGUMENT && strstr(err.message, "exists"),
            "insert of a live key: %s", err.message);
      CHECK(vx_insert(writer, keys + 1, base, 1, kDim - 1, &err) == VX_INVALID_ARGUMENT, "insert of the wrong dim");
      const int64_t fresh = 777777;
      CHECK(vx_insert(writer, &fresh, queries, 1, kDim, &err) == VX_OK, "insert: %s", err.message);
      int64_t top[kK];
      float top_d[kK];
      CHECK(vx_search(writer, queries, kDim, NULL, top, top_d, &found, NULL, &err) == VX_OK && top[0] == fresh &&
                top_d[0] < 1e-6f,
            "the inserted row is not query 0's nearest: %lld", (long long)top[0]);
      CHECK(vx_upsert(writer, &fresh, base, 1, kDim, &err) == VX_OK, "upsert: %s", err.message);
      vx_index_info wi;
      wi.struct_size = sizeof wi;
      CHECK(vx_index_info_get(writer, &wi, &err) == VX_OK && wi.inserted == 2 && wi.deleted == kK + 1 &&
                wi.write_bytes > 0,
            "after insert and upsert: inserted %llu, deleted %llu", (unsigned long long)wi.inserted,
            (unsigned long long)wi.deleted);
      /* A reindex through the writer: the handle then serves the new
       * generation, the writes folded in. */
      CHECK(vx_reindex_concurrently(reader, NULL, &err) == VX_INVALID_ARGUMENT, "reindex through a read-only handle");
      CHECK(vx_reindex_concurrently(writer, NULL, &err) == VX_OK, "reindex concurrently: %s", err.message);
      CHECK(vx_index_info_get(writer, &wi, &err) == VX_OK && wi.inserted == 0 && wi.deleted == 0 &&
                wi.count == kRows - kK + 1 && vx_contains(writer, fresh) == 1 && vx_contains(writer, near[0]) == 0,
            "after reindex concurrently: count %llu, inserted %llu, deleted %llu", (unsigned long long)wi.count,
            (unsigned long long)wi.inserted, (unsigned long long)wi.deleted);
      CHECK(vx_search(writer, base, kDim, NULL, top, top_d, &found, NULL, &err) == VX_OK && top_d[0] < 1e-6f,
            "search after reindex concurrently: %s", err.message);
      /* A vacuum through the writer reclaims a delete and links an insert in. */
      const int64_t vacuumed = 888888;
      CHECK(
          vx_delete(writer, &fresh, 1, &err) == VX_OK && vx_insert(writer, &vacuumed, queries, 1, kDim, &err) == VX_OK,
          "writes before the vacuum: %s", err.message);
      CHECK(vx_vacuum(reader, NULL, &err) == VX_INVALID_ARGUMENT, "vacuum through a read-only handle");
      CHECK(vx_vacuum(writer, NULL, &err) == VX_OK, "vacuum: %s", err.message);
      CHECK(vx_index_info_get(writer, &wi, &err) == VX_OK && wi.inserted == 0 && wi.deleted == 0 &&
                wi.count == kRows - kK + 1 && vx_contains(writer, fresh) == 0 && vx_contains(writer, vacuumed) == 1,
            "after the vacuum: count %llu, inserted %llu, deleted %llu", (unsigned long long)wi.count,
            (unsigned long long)wi.inserted, (unsigned long long)wi.deleted);
      CHECK(vx_search(writer, queries, kDim, NULL, top, top_d, &found, NULL, &err) == VX_OK && top[0] == vacuumed,
            "the vacuumed-in row is not query 0's nearest: %lld", (long long)top[0]);
      vx_close(reader);
      vx_close(writer);
      CHECK(vx_delete(writer, near, 1, &err) == VX_INVALID_ARGUMENT, "delete through a closed handle");
      /* Reindex folds the writes into a new generation of the live rows. */
      CHECK(vx_reindex(keyed, NULL, &err) == VX_OK, "reindex: %s", err.message);
      vx_index* re = vx_open(keyed, NULL, &err);
      CHECK(re != NULL, "open after reindex: %s", err.message);
      if (re) {
        vx_index_info ri;
        ri.struct_size = sizeof ri;
        CHECK(vx_index_info_get(re, &ri, &err) == VX_OK && ri.count == kRows - kK + 1 && ri.inserted == 0 &&
                  ri.deleted == 0 && ri.segments == 0,
              "after reindex: count %llu, inserted %llu, deleted %llu", (unsigned long long)ri.count,
              (unsigned long long)ri.inserted, (unsigned long long)ri.deleted);
        vx_close(re);
      }
    }
    keys[100] = keys[5];
    CHECK(vx_build(path, keyed, &k, &err) == VX_INVALID_ARGUMENT, "a repeated key accepted");
    CHECK(strstr(err.message, "row 100 repeats key") != NULL, "message: %s", err.message);
  }

  CHECK(strcmp(vx_version(), VX_VERSION) == 0, "library %s, header %s", vx_version(), VX_VERSION);

  /* From an array, with progress; then a build cancelled by its progress
   * callback leaves the first index as it was. */
  {
    char arr[256];
    snprintf(arr, sizeof arr, "%s/array", dir);
    struct Progress seen = {0, 0, 0};
    vx_build_options a;
    vx_build_options_init(&a);
    a.quant = "sq8";
    a.progress = CountProgress;
    a.progress_user = &seen;
    CHECK(vx_build_from_array(base, "f32", kRows, kDim, arr, &a, &err) == VX_OK, "build from array: %s", err.message);
    CHECK(seen.calls > 0 && seen.finished_phases > 0, "progress: %d calls, %d phases finished", seen.calls,
          seen.finished_phases);
    struct Progress cancel = {0, 0, 1};
    a.progress_user = &cancel;
    a.m = 8;
    CHECK(vx_build_from_array(base, "f32", kRows / 2, kDim, arr, &a, &err) == VX_CANCELLED, "cancel: %s", err.message);
    CHECK(cancel.calls == 1, "progress called %d times after asking to cancel", cancel.calls);

    /* One memory budget split between the pools; info says what the index is. */
    vx_open_options mo;
    vx_open_options_init(&mo);
    mo.memory_bytes = 3 << 20;
    vx_index* index = vx_open(arr, &mo, &err);
    CHECK(index != NULL, "open with memory_bytes: %s", err.message);
    if (index) {
      vx_index_info info;
      info.struct_size = sizeof info;
      CHECK(vx_index_info_get(index, &info, &err) == VX_OK, "info: %s", err.message);
      CHECK(info.count == kRows && info.dim == kDim && info.m == 16 && info.lists == 0, "count %llu dim %u m %u",
            (unsigned long long)info.count, info.dim, info.m);
      CHECK(strcmp(info.type, "hnsw") == 0 && strcmp(info.metric, "l2") == 0 && strcmp(info.quant, "sq8") == 0 &&
                strcmp(info.storage, "f32") == 0 && info.quant_choice[0] == '\0',
            "type %s metric %s quant %s storage %s", info.type, info.metric, info.quant, info.storage);
      CHECK(info.structure_cache_bytes + info.vector_cache_bytes == mo.memory_bytes &&
                info.structure_cache_bytes <= info.structure_bytes,
            "pools %llu + %llu for %llu", (unsigned long long)info.structure_cache_bytes,
            (unsigned long long)info.vector_cache_bytes, (unsigned long long)mo.memory_bytes);
      CHECK(info.structure_bytes > 0 && info.vector_bytes >= (uint64_t)kRows * kDim * 4 && info.resident_bytes > 0,
            "sizes");

      /* A batch on two threads answers as one query at a time does, with
       * the same work per query. */
      static int64_t batch_ids[kQueries * kK];
      static float batch_dist[kQueries * kK];
      static uint32_t batch_found[kQueries];
      static vx_search_stats batch_stats[kQueries];
      CHECK(vx_search_batch(index, queries, kQueries, kDim, NULL, 2, batch_ids, batch_dist, batch_found, batch_stats,
                            &err) == VX_OK,
            "batch: %s", err.message);
      for (int qi = 0; qi < kQueries; ++qi) {
        int64_t ids[kK];
        float dist[kK];
        uint32_t found = 0;
        vx_search_stats st;
        CHECK(vx_search(index, queries + qi * kDim, kDim, NULL, ids, dist, &found, &st, &err) == VX_OK, "search: %s",
              err.message);
        CHECK(found == batch_found[qi], "query %d: found %u, batch %u", qi, found, batch_found[qi]);
        for (uint32_t i = 0; i < found && i < kK; ++i) {
          CHECK(ids[i] == batch_ids[qi * kK + i] && dist[i] == batch_dist[qi * kK + i], "query %d place %u differs", qi,
                i);
        }
        CHECK(st.codes_scored > 0 && st.codes_scored == batch_stats[qi].codes_scored &&
                  st.vectors_reranked == batch_stats[qi].vectors_reranked &&
                  st.structure_pages == batch_stats[qi].structure_pages && st.vectors_reranked >= kK,
              "query %d: stats differ (codes %llu vs %llu)", qi, (unsigned long long)st.codes_scored,
              (unsigned long long)batch_stats[qi].codes_scored);
      }
      /* k past the rows: the places past found are -1 and INFINITY. */
      vx_search_params big;
      vx_search_params_init(&big);
      big.k = 4 * kRows;
      big.rerank = 4 * kRows;
      int64_t* wide_ids = malloc(sizeof(int64_t) * 2 * big.k);
      float* wide_dist = malloc(sizeof(float) * 2 * big.k);
      uint32_t wide_found[2];
      CHECK(vx_search_batch(index, queries, 2, kDim, &big, 1, wide_ids, wide_dist, wide_found, NULL, &err) == VX_OK,
            "batch with k past the rows: %s", err.message);
      const uint32_t got = wide_found[1];
      CHECK(got > kK && got <= kRows && wide_ids[big.k + got - 1] >= 0 && wide_ids[big.k + got] == -1 &&
                wide_ids[2 * big.k - 1] == -1 && isinf(wide_dist[big.k + got]) && !isinf(wide_dist[big.k + got - 1]),
            "found %u", got);
      free(wide_ids);
      free(wide_dist);

      /* Misuse: a short query, an uninitialised struct, too many threads, a
       * closed handle. */
      int64_t ids[kK];
      uint32_t found = 3;
      CHECK(vx_search(index, queries, kDim - 1, NULL, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "23 components; the index has dim 24") != NULL && found == 0,
            "short query: %s", err.message);
      vx_search_params zero;
      memset(&zero, 0, sizeof zero);
      CHECK(vx_search(index, queries, kDim, &zero, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "struct_size is 0") != NULL,
            "uninitialised params: %s", err.message);
      CHECK(vx_search_batch(index, queries, 2, kDim, NULL, 5000, batch_ids, NULL, NULL, NULL, &err) ==
                VX_INVALID_ARGUMENT,
            "5000 threads: %s", err.message);
      info.struct_size = 8;
      CHECK(vx_index_info_get(index, &info, &err) == VX_INVALID_ARGUMENT, "info with struct_size 8");
      vx_close(index);
      CHECK(vx_search(index, queries, kDim, NULL, ids, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "index is closed") != NULL,
            "search of a closed index: %s", err.message);
      CHECK(vx_prewarm(index, NULL, &err) == VX_INVALID_ARGUMENT && vx_index_dim(index) == 0 &&
                vx_index_count(index) == 0,
            "a closed index answered");
      vx_close(index); /* twice: harmless */
    }

    /* snapshot and restore: the copy answers as the original. */
    {
      char archive[300], copy[300];
      snprintf(archive, sizeof archive, "%s/snap.vxs", dir);
      snprintf(copy, sizeof copy, "%s/copy", dir);
      CHECK(vx_snapshot(arr, archive, 0, &err) == VX_OK, "snapshot: %s", err.message);
      CHECK(vx_restore(archive, copy, &err) == VX_OK, "restore: %s", err.message);
      vx_index* a = vx_open(arr, NULL, &err);
      vx_index* b = vx_open(copy, NULL, &err);
      CHECK(a != NULL && b != NULL, "open the copy: %s", err.message);
      if (a && b) {
        int64_t ia[kK], ib[kK];
        uint32_t fa = 0, fb = 0;
        CHECK(vx_search(a, queries, kDim, NULL, ia, NULL, &fa, NULL, &err) == VX_OK &&
                  vx_search(b, queries, kDim, NULL, ib, NULL, &fb, NULL, &err) == VX_OK && fa == fb &&
                  memcmp(ia, ib, sizeof ia) == 0,
              "the restored copy answers differently");
      }
      vx_close(a);
      vx_close(b);
      CHECK(vx_restore(path, copy, &err) == VX_CORRUPTION && strstr(err.message, "not a vx snapshot") != NULL,
            "restore of a vector file: %s", err.message);
      CHECK(vx_snapshot(NULL, archive, 0, &err) == VX_INVALID_ARGUMENT, "snapshot of NULL");
    }

    /* verify: whole, then one flipped byte in the vectors file. */
    uint64_t problems = 9;
    char report[1024];
    CHECK(vx_verify(arr, &problems, report, sizeof report, &err) == VX_OK && problems == 0, "verify: %s", err.message);
    char vectors[300];
    snprintf(vectors, sizeof vectors, "%s/gen-1/vectors", arr);
    FILE* f = fopen(vectors, "r+b");
    CHECK(f != NULL, "open %s", vectors);
    if (f) {
      fseek(f, 5000, SEEK_SET);
      const int c = fgetc(f);
      fseek(f, 5000, SEEK_SET);
      fputc(c ^ 0x40, f);
      fclose(f);
    }
    CHECK(vx_verify(arr, &problems, report, sizeof report, &err) == VX_CORRUPTION && problems > 0 &&
              strstr(report, "vectors") != NULL,
          "verify of a flipped byte: %s / %s", err.message, report);
  }

  /* Filtered search: columns at the build, a filter string per search;
   * every result matches, min(k, matches) come back, the nearest matching
   * rows are found, and bad columns or filters are refused with messages. */
  {
    static int64_t tenant[kRows], tags[kRows];
    static double price[kRows];
    static uint64_t offsets[kRows + 1];
    for (int r = 0; r < kRows; ++r) {
      tenant[r] = r % 30;
      price[r] = r * 0.5;
      tags[r] = r % 4;
      offsets[r + 1] = (uint64_t)r + 1;
    }
    vx_attribute_column cols[3] = {{"tenant", "int", kRows, tenant, NULL, NULL, NULL},
                                   {"price", "float", kRows, NULL, price, NULL, NULL},
                                   {"tags", "labels", kRows, NULL, NULL, offsets, tags}};
    char filtered[256];
    snprintf(filtered, sizeof filtered, "%s/filtered", dir);
    vx_build_options f;
    vx_build_options_init(&f);
    CHECK(f.attributes == NULL && f.attribute_count == 0, "attributes default to none");
    f.quant = "sq8";
    f.attributes = cols;
    f.attribute_count = 3;
    CHECK(vx_build(path, filtered, &f, &err) == VX_OK, "build with attributes: %s", err.message);
    vx_index* fi = vx_open(filtered, NULL, &err);
    CHECK(fi != NULL, "open filtered: %s", err.message);
    if (fi) {
      vx_search_params sp;
      vx_search_params_init(&sp);
      CHECK(sp.filter == NULL, "no filter by default");
      sp.filter = "tenant = 7 AND tags HAS 3"; /* r % 30 == 7 and r % 4 == 3: 50 rows */
      int64_t got[kK];
      uint32_t found = 0;
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK && found == kK,
            "filtered search: %s (%u found)", err.message, found);
      /* The exact 10 nearest matching rows, by insertion. */
      float best_d[kK];
      int64_t best[kK];
      int nb = 0;
      for (int r = 0; r < kRows; ++r) {
        if (r % 30 != 7 || r % 4 != 3) continue;
        const float d = L2(queries, base + (size_t)r * kDim);
        int at = nb < kK ? nb++ : kK;
        while (at > 0 && best_d[at - 1] > d) {
          if (at < kK) best_d[at] = best_d[at - 1], best[at] = best[at - 1];
          --at;
        }
        if (at < kK) best_d[at] = d, best[at] = r;
      }
      int hits = 0;
      for (uint32_t i = 0; i < found; ++i) {
        CHECK(got[i] % 30 == 7 && got[i] % 4 == 3, "row %lld does not match", (long long)got[i]);
        for (int j = 0; j < nb; ++j) hits += got[i] == best[j];
      }
      CHECK(hits >= 9, "filtered search found %d of the 10 nearest matching rows", hits);
      /* The plan, as EXPLAIN would say it: the 50 matching rows, scanned;
       * one element a query in a batch, zero for a query without a filter. */
      int matching = 0;
      for (int r = 0; r < kRows; ++r) matching += r % 30 == 7 && r % 4 == 3;
      vx_filter_stats plan[3];
      memset(plan, 0xAB, sizeof plan);
      CHECK(sp.filter_stats == NULL, "no filter stats by default");
      sp.filter_stats = plan;
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK, "plan: %s", err.message);
      CHECK(plan[0].filter_rows == (uint64_t)matching && plan[0].filter_scans == 1 && plan[0].filter_walks == 0 &&
                plan[0].filter_fallbacks == 0 && plan[0].filter_scan_limit >= plan[0].filter_rows,
            "filter plan: %llu rows (want %d), %llu scans, %llu walks", (unsigned long long)plan[0].filter_rows,
            matching, (unsigned long long)plan[0].filter_scans, (unsigned long long)plan[0].filter_walks);
      CHECK(plan[1].filter_rows == 0xABABABABABABABABull, "one query's plan wrote past its element");
      int64_t ids2[2 * kK];
      CHECK(vx_search_batch(fi, queries, 2, kDim, &sp, 1, ids2, NULL, NULL, NULL, &err) == VX_OK, "batch plan: %s",
            err.message);
      CHECK(plan[1].filter_scans == 1 && plan[2].filter_rows == 0xABABABABABABABABull, "a batch's plans: one a query");
      sp.filter = NULL;
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK && plan[0].filter_rows == 0 &&
                plan[0].filter_scans + plan[0].filter_walks == 0,
            "an unfiltered query's plan is zero");
      sp.filter_stats = NULL;
      sp.filter = "price < 2"; /* 4 rows */
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK && found == 4,
            "a filter matching 4 rows returned %u: %s", found, err.message);
      sp.filter = "tenant = = 1";
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "at character 10") != NULL,
            "a bad filter: %s", err.message);
      sp.filter = "colour = 1";
      CHECK(vx_search(fi, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "'colour'") != NULL,
            "an unknown column: %s", err.message);
      vx_close(fi);
    }
    /* Inserted rows carry attributes (vx_insert_attrs) and match by them;
     * an insert without the index's columns is refused naming one. */
    vx_index* fw = vx_open_writer(filtered, NULL, NULL, &err);
    CHECK(fw != NULL, "open writer on filtered: %s", err.message);
    if (fw) {
      const int64_t key = 900000;
      int64_t t99 = 99, tag42 = 42;
      double p1 = 1000;
      uint64_t one[2] = {0, 1};
      vx_attribute_column row[3] = {{"tags", "labels", 1, NULL, NULL, one, &tag42},
                                    {"tenant", "int", 1, &t99, NULL, NULL, NULL},
                                    {"price", "float", 1, NULL, &p1, NULL, NULL}};
      CHECK(vx_insert(fw, &key, queries, 1, kDim, &err) == VX_INVALID_ARGUMENT && strstr(err.message, "tenant"),
            "an insert without attributes: %s", err.message);
      CHECK(vx_insert_attrs(fw, &key, queries, 1, kDim, row, 2, &err) == VX_INVALID_ARGUMENT &&
                strstr(err.message, "'price'"),
            "an insert without the price column: %s", err.message);
      CHECK(vx_insert_attrs(fw, &key, queries, 1, kDim, row, 3, &err) == VX_OK, "insert_attrs: %s", err.message);
      vx_search_params sp;
      vx_search_params_init(&sp);
      sp.filter = "tenant = 99 AND tags HAS 42 AND price > 999";
      int64_t got[kK];
      uint32_t found = 0;
      CHECK(vx_search(fw, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK && found == 1 && got[0] == key,
            "the inserted row by its attributes: %s (%u found)", err.message, found);
      t99 = 98;
      CHECK(vx_upsert_attrs(fw, &key, queries, 1, kDim, row, 3, &err) == VX_OK, "upsert_attrs: %s", err.message);
      CHECK(vx_search(fw, queries, kDim, &sp, got, NULL, &found, NULL, &err) == VX_OK && found == 0,
            "the upserted row left tenant 99: %u found", found);
      vx_close(fw);
    }
    cols[1].type = "double";
    CHECK(vx_build(path, filtered, &f, &err) == VX_INVALID_ARGUMENT && strstr(err.message, "price") != NULL,
          "a bad column type: %s", err.message);
    cols[1].type = "float";
    cols[1].rows = kRows - 1;
    CHECK(vx_build(path, filtered, &f, &err) == VX_INVALID_ARGUMENT && strstr(err.message, "price") != NULL,
          "a short column: %s", err.message);
  }

  /* Errors: codes and messages, no output, no exit. */
  o.threads = 5000;
  CHECK(vx_build(path, ivf, &o, &err) == VX_INVALID_ARGUMENT, "5000 threads accepted: %s", err.message);
  CHECK(strstr(err.message, "threads must be in 0..1024") != NULL, "message: %s", err.message);
  o.threads = 2;
  o.metric = "euclid";
  CHECK(vx_build(path, ivf, &o, &err) == VX_INVALID_ARGUMENT && err.code == VX_INVALID_ARGUMENT, "bad metric");
  CHECK(strstr(err.message, "euclid") != NULL, "message: %s", err.message);
  snprintf(path, sizeof path, "%s/missing", dir);
  CHECK(vx_open(path, NULL, &err) == NULL && err.code != VX_OK, "opened a missing index");
  CHECK(strstr(err.message, "missing") != NULL, "message: %s", err.message);
  CHECK(vx_build(NULL, ivf, NULL, NULL) == VX_INVALID_ARGUMENT, "NULL base path");
  vx_close(NULL);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  if (failures)
    fprintf(stderr, "%d check(s) failed\n", failures);
  else
    printf("c api: all checks passed\n");
  return failures != 0;
}
