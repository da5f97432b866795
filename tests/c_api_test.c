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
    const vx_code c = vx_search(index, q, p, ids, dist, &found, &err);
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
  vx_index* index = vx_open(ivf, 1 << 20, 1 << 20, &err);
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
    CHECK(vx_search(index, queries, &p, ids, NULL, &found, &err) == VX_INVALID_ARGUMENT && found == 0,
          "k = 0 accepted");
    CHECK(strstr(err.message, "k must be") != NULL, "message: %s", err.message);
    CHECK(vx_search(index, NULL, NULL, ids, NULL, &found, &err) == VX_INVALID_ARGUMENT, "NULL query accepted");
    vx_close(index);
  }

  /* HNSW with the defaults (NULL options and params). */
  CHECK(vx_build(path, hnsw, NULL, &err) == VX_OK, "build hnsw: %s", err.message);
  index = vx_open(hnsw, 0, 0, &err);
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
  index = vx_open(hnsw, UINT64_MAX / 4, UINT64_MAX / 4, &err);
  CHECK(index != NULL, "open with a huge budget: %s", err.message);
  if (index) {
    const double r = Recall(index, NULL);
    CHECK(r >= 0.9, "hnsw recall with a huge budget %.3f", r);
    vx_close(index);
  }

  /* NaN and Inf queries are refused, naming the component. */
  index = vx_open(hnsw, 0, 0, &err);
  if (index) {
    float q[kDim];
    int64_t ids[kK];
    uint32_t found = 9;
    memcpy(q, queries, sizeof q);
    q[5] = NAN;
    CHECK(vx_search(index, q, NULL, ids, NULL, &found, &err) == VX_INVALID_ARGUMENT && found == 0,
          "NaN query accepted");
    CHECK(strstr(err.message, "component 5 is NaN") != NULL, "message: %s", err.message);
    q[5] = INFINITY;
    CHECK(vx_search(index, q, NULL, ids, NULL, &found, &err) == VX_INVALID_ARGUMENT, "Inf query accepted");
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
    vx_index* by_key = vx_open(keyed, 0, 0, &err);
    CHECK(by_key != NULL, "open keyed: %s", err.message);
    if (by_key) {
      int64_t got[kK], want[kK];
      uint32_t found = 0;
      CHECK(vx_search(by_key, queries, NULL, got, NULL, &found, &err) == VX_OK && found == kK, "search keyed: %s",
            err.message);
      Exact(queries, want);
      int hits = 0;
      for (uint32_t i = 0; i < found; ++i) {
        CHECK(got[i] >= keys[0] && (got[i] - keys[0]) % 3 == 0, "key %lld is not one given", (long long)got[i]);
        for (int j = 0; j < kK; ++j) hits += got[i] == keys[want[j]];
      }
      CHECK(hits >= 8, "keyed search found %d of the 10 nearest keys", hits);
      vx_close(by_key);
    }
    keys[100] = keys[5];
    CHECK(vx_build(path, keyed, &k, &err) == VX_INVALID_ARGUMENT, "a repeated key accepted");
    CHECK(strstr(err.message, "row 100 repeats key") != NULL, "message: %s", err.message);
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
  CHECK(vx_open(path, 0, 0, &err) == NULL && err.code != VX_OK, "opened a missing index");
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
