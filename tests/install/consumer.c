/* A C program built against an installed vx (find_package or pkg-config):
 * builds a small index from an array, finds each probed row as its own
 * nearest neighbour at distance 0, and prints the library's version. */
#include <stdio.h>
#include <stdlib.h>

#include <vx/vx.h>

enum { kRows = 500, kDim = 8 };

int main(int argc, char** argv) {
  if (argc != 2) return fprintf(stderr, "usage: %s DIR\n", argv[0]), 2;
  static float rows[kRows * kDim];
  for (int i = 0; i < kRows * kDim; ++i) rows[i] = (float)((i * 7919) % 1000) / 10.0f + (float)(i / kDim);
  vx_error err;
  vx_build_options o;
  vx_build_options_init(&o);
  o.quant = "sq8";
  /* One thread: the same graph every run. On this chain-like set a search
   * at the default ef_search 40 misses some row's own vector in ~7% of
   * builds on several threads (which row varies with the schedule); this
   * program checks linking, not recall. */
  o.threads = 1;
  if (vx_build_from_array(rows, "f32", kRows, kDim, argv[1], &o, &err) != VX_OK)
    return fprintf(stderr, "%s\n", err.message), 1;
  vx_index* index = vx_open(argv[1], NULL, &err);
  if (!index) return fprintf(stderr, "%s\n", err.message), 1;
  for (int r = 0; r < kRows; r += 37) {
    int64_t ids[10];
    float dist[10];
    uint32_t found = 0;
    if (vx_search(index, rows + r * kDim, kDim, NULL, ids, dist, &found, NULL, &err) != VX_OK)
      return fprintf(stderr, "%s\n", err.message), 1;
    if (found != 10 || ids[0] != r || dist[0] != 0.0f)
      return fprintf(stderr, "row %d: nearest %lld at %g\n", r, (long long)ids[0], dist[0]), 1;
  }
  vx_close(index);
  printf("c consumer: vx %s ok\n", vx_version());
  return 0;
}
