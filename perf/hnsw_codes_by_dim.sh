#!/usr/bin/env bash
# Which codes steer vx's HNSW walk best, by dimension: for each dimension a
# generated set, one index per quantizer, and the in-memory ef_search table
# on one thread (a pool holding the whole index, after one untimed pass).
#
#   perf/hnsw_codes_by_dim.sh [COUNT]             (default 200000)
#   env: VX_BENCH_DIR (default /tmp/vx-dims), VX_DIMS (default 32,64,128),
#        VX_QUANTS (default auto,sq8; pq:DIM/4 is pq at a byte per 4 dimensions), VX_EFS (default 10,20,40,80,160)
# Needs a release build in build/. Reuses data and indexes already there.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
work=${VX_BENCH_DIR:-/tmp/vx-dims}; mkdir -p "$work"
vxctl=build/tools/vxctl
echo "data: $n vectors per dimension (generated, seed 11), 1000 queries, k=10, l2, m=16, ef_construction=64"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
IFS=, read -ra dims <<< "${VX_DIMS:-32,64,128}"
IFS=, read -ra quants <<< "${VX_QUANTS:-auto,sq8}"
for d in "${dims[@]}"; do
  base=$work/base_${n}_$d.fbin; q=$work/q_$d.fbin; gt=$work/gt_${n}_$d.ivecs
  [ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
  [ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
  for quant in "${quants[@]}"; do
    [ "$quant" = "pq:DIM/4" ] && quant=pq:$((d / 4))  # a byte per 4 dimensions at each dimension
    idx=$work/idx_${n}_${d}_$quant
    [ -f "$idx/MANIFEST" ] || $vxctl build --base "$base" --out "$idx" --quant "$quant" --threads 2 2>&1 | grep built
    echo "dim $d, --quant $quant ($($vxctl info "$idx" | grep -o 'codes [^ ]*'))"
    $vxctl bench "$idx" --queries "$q" --gt "$gt" --sweep "ef_search=${VX_EFS:-10,20,40,80,160}" --threads 1 \
      --memory 1024 --warmup | grep -v "^threads"
  done
done
