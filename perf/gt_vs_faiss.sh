#!/usr/bin/env bash
# Times `vxctl gt` against FAISS's exact search (IndexFlatL2 / IndexFlatIP,
# Debian's python3-faiss) on the same generated data in the same run, checks
# both return the same neighbour distances, and prints one table.
#
#   perf/gt_vs_faiss.sh [COUNT] [DIM] [QUERIES] [K]      (defaults 1000000 128 10000 100)
#
# Needs: a release build in build/ and `apt-get install python3-faiss python3-numpy bc`
# (Debian's /usr/bin/python3 is used, not any other python on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}; dim=${2:-128}; nq=${3:-10000}; k=${4:-100}
work=${VX_BENCH_DIR:-/tmp/vx-bench-gt}
mkdir -p "$work"
vxctl=build/tools/vxctl
base=$work/base_${count}_${dim}.fbin; queries=$work/queries_${nq}_${dim}.fbin
[ -f "$base" ] || $vxctl gen --dim "$dim" --count "$count" --seed 1 --out "$base" \
  --queries "$nq" --queries-out "$queries" 2>/dev/null
[ -f "$queries" ] || $vxctl gen --dim "$dim" --count "$nq" --seed 2 --out "$queries" 2>/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "data: $count x $dim float32 base, $nq queries, k=$k, metric l2; $($vxctl version | sed -n 2p)"
t0=$(date +%s.%N)
$vxctl gt --base "$base" --queries "$queries" --k "$k" --out "$work/vx_gt.ivecs" --dist-out "$work/vx_gt.fvecs" 2>/dev/null >/dev/null
t1=$(date +%s.%N)
vx_secs=$(echo "$t1 - $t0" | bc)

/usr/bin/python3 - "$base" "$queries" "$k" "$work" "$vx_secs" <<'PY'
import sys, time, numpy as np, faiss
base_path, q_path, k, work, vx_secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def fbin(p):
    n, d = np.fromfile(p, dtype=np.uint32, count=2)
    return np.fromfile(p, dtype=np.float32, offset=8).reshape(int(n), int(d))
t0 = time.time()
xb = fbin(base_path); xq = fbin(q_path)
t1 = time.time()
index = faiss.IndexFlatL2(xb.shape[1]); index.add(xb)
D, I = index.search(xq, k)
t2 = time.time()
vxd = np.fromfile(work + "/vx_gt.fvecs", dtype=np.float32).reshape(len(xq), k + 1)[:, 1:]
rel = np.abs(vxd - D) / np.maximum(np.abs(D), 1e-6)
print(f"faiss threads: {faiss.omp_get_max_threads()}")
print(f"{'':24}{'seconds':>10}{'queries/s':>12}")
print(f"{'vxctl gt (whole run)':24}{vx_secs:>10.2f}{len(xq)/vx_secs:>12.0f}")
print(f"{'faiss load+search':24}{t2-t0:>10.2f}{len(xq)/(t2-t0):>12.0f}")
print(f"{'faiss search only':24}{t2-t1:>10.2f}{len(xq)/(t2-t1):>12.0f}")
print(f"ratio faiss(load+search)/vx: {(t2-t0)/vx_secs:.2f}   faiss(search)/vx: {(t2-t1)/vx_secs:.2f}")
print(f"max relative distance difference vx vs faiss over all ranks: {rel.max():.2e}")
PY
