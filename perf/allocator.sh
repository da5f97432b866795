#!/usr/bin/env bash
# Does the allocator matter? Counts malloc calls per query (warm) and per
# built row through the Python module with a counting shim, then builds the
# same index with glibc's malloc and with jemalloc preloaded (Debian's
# libjemalloc2), alternating, and prints time and peak RSS of each.
#
#   perf/allocator.sh [COUNT] [DIM]          (defaults 100000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-bench-alloc), VX_BUILD (default build)
# Needs: a release build with the Python module; gcc; libjemalloc2.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-bench-alloc}; mkdir -p "$work"
build=${VX_BUILD:-build}; vxctl=$build/tools/vxctl
export PYTHONPATH=$build/python
base=$work/base_${n}_${d}.fbin; q=$work/q_${d}.fbin
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
cat > "$work/count.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
static unsigned long long calls;
static void* (*next_malloc)(size_t);
void* malloc(size_t s) {
  if (!next_malloc) next_malloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "malloc");
  __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
  return next_malloc(s);
}
unsigned long long vx_malloc_calls(void) { return calls; }
C
gcc -shared -fPIC -O2 "$work/count.c" -o "$work/libcount.so" -ldl
echo "data: $n x $d (generated, seed 11), sq8, m 16, ef_construction 64; machine: $(nproc) cores"
LD_PRELOAD=$work/libcount.so /usr/bin/python3 - "$base" "$q" "$work" <<'PY'
import ctypes, sys, numpy as np, vx
c = ctypes.CDLL(sys.argv[3] + "/libcount.so"); c.vx_malloc_calls.restype = ctypes.c_ulonglong
def fbin(p):
    n, d = np.fromfile(p, dtype=np.uint32, count=2); return np.fromfile(p, dtype=np.float32, offset=8).reshape(int(n), int(d))
b, q = fbin(sys.argv[1]), fbin(sys.argv[2])
c0 = c.vx_malloc_calls(); vx.build(sys.argv[3] + "/idx", b, quant="sq8", threads=1); c1 = c.vx_malloc_calls()
index = vx.open(sys.argv[3] + "/idx", memory_mb=1024)
index.search(q, ef_search=40)
c2 = c.vx_malloc_calls(); index.search(q, ef_search=40); c3 = c.vx_malloc_calls()
print(f"malloc calls: {(c1 - c0) / len(b):.1f} per built row, {(c3 - c2) / len(q):.2f} per query (warm, ef_search 40)")
PY
for rep in 1 2 3; do
  for alloc in glibc jemalloc; do
    pre=""; [ $alloc = jemalloc ] && pre=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    LD_PRELOAD=$pre /usr/bin/python3 - "$base" "$work" "$alloc" <<'PY'
import resource, sys, time, numpy as np, vx
n, d = np.fromfile(sys.argv[1], dtype=np.uint32, count=2)
b = np.fromfile(sys.argv[1], dtype=np.float32, offset=8).reshape(int(n), int(d))
t0 = time.time(); vx.build(sys.argv[2] + "/idx", b, quant="sq8", threads=2)
print(f"{sys.argv[3]:9} build {time.time() - t0:5.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
PY
  done
done
