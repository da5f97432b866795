#!/usr/bin/env bash
# vx's HNSW served from SSD under a memory cap of 1/4 of the index's size on
# disk (memcap counts the page cache): the ef_search table on 1 and 2
# threads with recall@10, p50/p99 latency, SSD reads and round trips per query.
# The pool is warmed with 10,000 random base vectors, not with the measured
# queries, so their own pages are not pre-read. Then a cold start at
# ef_search 80 on one thread: a fresh process with nothing warmed, and one
# with `--prewarm` (the graph read into the pool first).
#
#   perf/hnsw_memcap.sh [COUNT] [DIM]          (defaults 5000000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-bench-hnsw5m), VX_EFS (default
#        40,80,160,320), VX_BEAM (default 4), VX_BUILD_ARGS (extra build flags)
# Needs root for memcap (../shared/tools/memcap). Builds the index if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-bench-hnsw5m}; mkdir -p "$work"
efs=${VX_EFS:-40,80,160,320}; beam=${VX_BEAM:-4}
vxctl=build/tools/vxctl
memcap=../shared/tools/memcap
base=$work/base_${n}_${d}.fbin; q=$work/q_${d}.fbin; gt=$work/gt_${n}_${d}.ivecs
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
warm=$work/warm10k.fbin
[ -f "$warm" ] || /usr/bin/python3 - "$base" "$warm" <<'PY'
import sys, numpy as np
n, d = np.fromfile(sys.argv[1], dtype=np.uint32, count=2)
b = np.memmap(sys.argv[1], dtype=np.float32, mode="r", offset=8, shape=(int(n), int(d)))
w = np.ascontiguousarray(b[np.sort(np.random.default_rng(7).choice(int(n), 10000, replace=False))])
open(sys.argv[2], "wb").write(np.array(w.shape, dtype=np.uint32).tobytes() + w.tobytes())
PY
echo "data: $n x $d f32 (generated, seed 11), 1000 queries, k=10, l2"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $($vxctl version | sed -n 2p)"
if [ ! -f "$work/idx/MANIFEST" ]; then
  /usr/bin/time -f "vx build: %e s, peak RSS %M KB" $vxctl build --base "$base" --out "$work/idx" --threads "$(nproc)" \
    ${VX_BUILD_ARGS:-} 2>&1 | grep -E "vx build|built"
fi
$vxctl info "$work/idx" | sed -n 1,5p
index_mb=$(( $(du -b -c "$work"/idx/* | tail -1 | cut -f1) / 1048576 ))
resident_mb=$(( ($(stat -c %s "$work"/idx/gen-*/codes) + $(stat -c %s "$work"/idx/gen-*/keys) + $(stat -c %s "$work"/idx/gen-*/upper)) / 1048576 ))
cap_mb=$(( index_mb / 4 ))
pool_mb=$(( cap_mb - resident_mb - 160 ))  # the rest: binary, libraries, queries, ground truth, scratch
echo "index on disk: $index_mb MiB; memcap $cap_mb MiB (1/4); always resident $resident_mb MiB; buffer pool $pool_mb MiB; beam $beam"
$memcap "$cap_mb" $vxctl bench "$work/idx" --queries "$q" --gt "$gt" --sweep "ef_search=$efs" --threads 1,2 \
  --memory "$pool_mb" --beam "$beam" --warmup --warmup-queries "$warm" --json "$work/vx_memcap.json"
for prewarm in "" --prewarm; do
  echo "cold start${prewarm:+ with $prewarm}, ef_search 80, 1 thread:"
  $memcap "$cap_mb" $vxctl query "$work/idx" --queries "$q" --gt "$gt" --ef-search 80 --memory "$pool_mb" --beam "$beam" $prewarm
done
