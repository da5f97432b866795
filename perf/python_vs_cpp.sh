#!/usr/bin/env bash
# Batch search through the Python module against the same search from C++
# (vxctl bench), same index, same queries, same run: QPS at ef_search 40 on
# 1 and 2 threads, a batch of 1,000 queries, warm (one untimed pass first,
# the pool holding the whole index); each run times 5 batches and keeps the
# median, and the figure is the median of 5 runs, C++ and Python alternating.
#
#   perf/python_vs_cpp.sh [COUNT] [DIM]          (defaults 100000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-bench-python), VX_BUILD (default build)
# Needs: a release build in build/ (with the Python module, build/python).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-bench-python}; mkdir -p "$work"
build=${VX_BUILD:-build}; vxctl=$build/tools/vxctl
base=$work/base_${n}_${d}.fbin; q=$work/q_${d}.fbin; gt=$work/gt_${n}_${d}.ivecs
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
[ -f "$work/idx/MANIFEST" ] || $vxctl build --base "$base" --out "$work/idx" --quant sq8 --threads 2 2>/dev/null | tail -1
mem=$(( ($(stat -c %s "$work"/idx/gen-*/graph) + $(stat -c %s "$work"/idx/gen-*/vectors)) / 1048576 + 16 ))
echo "data: $n x $d (generated, seed 11), 1000 queries, k 10, ef_search 40, sq8, pool $mem MB"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
for t in 1 2; do
  cpp=(); py=()
  for rep in 1 2 3 4 5; do
    cpp+=("$($vxctl bench "$work/idx" --queries "$q" --gt "$gt" --sweep ef-search=40,40,40,40,40 --threads "$t" \
             --memory "$mem" --warmup --json 2>/dev/null |
             /usr/bin/python3 -c 'import json,sys,statistics as st; print(st.median(r["qps"] for r in json.load(sys.stdin)["rows"]))')")
    py+=("$(PYTHONPATH=$build/python /usr/bin/python3 - "$work/idx" "$q" "$mem" "$t" <<'PY'
import sys, time, numpy as np, vx
n, d = np.fromfile(sys.argv[2], dtype=np.uint32, count=2)
q = np.fromfile(sys.argv[2], dtype=np.float32, offset=8).reshape(int(n), int(d))
index = vx.open(sys.argv[1], memory_mb=float(sys.argv[3]), max_searchers=int(sys.argv[4]))
index.search(q, ef_search=40, threads=int(sys.argv[4]))  # untimed: fills the pool
qps = []
for _ in range(5):
    t0 = time.perf_counter(); index.search(q, ef_search=40, threads=int(sys.argv[4])); qps.append(len(q) / (time.perf_counter() - t0))
print(sorted(qps)[2])
PY
)")
  done
  /usr/bin/python3 - "$t" "${cpp[*]}" "${py[*]}" <<'PY'
import sys, statistics as st
c = [float(x) for x in sys.argv[2].split()]; p = [float(x) for x in sys.argv[3].split()]
print(f"threads {sys.argv[1]}: C++ (vxctl bench) median QPS {st.median(c):.0f} {sorted(round(x) for x in c)}; "
      f"Python index.search median QPS {st.median(p):.0f} {sorted(round(x) for x in p)}; "
      f"Python/C++ {st.median(p)/st.median(c):.3f}")
PY
done
