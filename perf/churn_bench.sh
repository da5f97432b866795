#!/usr/bin/env bash
# Churn: rounds of deleting 10% of the live rows at random and inserting as
# many new ones (`vxctl delete`, `vxctl insert`), each round ended by a
# vacuum (`vxctl vacuum`: the graph repaired around the deleted rows, the
# inserted rows merged in). After each round: the vacuum's time, recall@10
# at ef_search 40 against exact search over the live rows, and SSD reads a
# query (64 MB of pools, O_DIRECT); at the end the same for a fresh build
# of the final rows.
#   perf/churn_bench.sh      env: N (rows, default 1000000), DIM (128),
#                            ROUNDS (10), VX_BENCH_DIR (default /var/tmp),
#                            VX_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000000}
dim=${DIM:-128}
rounds=${ROUNDS:-10}
nq=200
build=${VX_BUILD_DIR:-build}
py=/usr/bin/python3
export PYTHONPATH=$PWD/perf
work=$(mktemp -d "${VX_BENCH_DIR:-/var/tmp}/vx-churn.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target vxctl >/dev/null
vxctl=$build/tools/vxctl

echo "== data: $n x $dim generated, $rounds rounds of 10% deleted and 10% inserted, $nq queries; commit $(git rev-parse --short HEAD)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
$vxctl gen --dim "$dim" --count $((n + n / 10 * rounds)) --queries "$nq" --out "$work/all.fbin" \
  --queries-out "$work/q.fbin" >/dev/null 2>&1
$py - "$work" "$n" "$rounds" <<'EOF'
import sys, numpy as np
from bench_data import read_fbin, write_fbin
work, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = read_fbin(f"{work}/all.fbin")
write_fbin(f"{work}/base.fbin", rows[:n])
rng = np.random.default_rng(5)
live = np.arange(n)
for r in range(rounds):  # keys are row numbers of all.fbin
    dead = rng.choice(live, n // 10, replace=False)
    new = np.arange(n + r * (n // 10), n + (r + 1) * (n // 10))
    live = np.concatenate([np.setdiff1d(live, dead), new])
    np.save(f"{work}/dead{r}.npy", dead.astype(np.int64))
    np.save(f"{work}/new{r}.npy", new.astype(np.int64))
    write_fbin(f"{work}/new{r}.fbin", rows[new])
    np.save(f"{work}/live{r}.npy", live.astype(np.int64))
write_fbin(f"{work}/final.fbin", rows[live])
np.save(f"{work}/final_ids.npy", live.astype(np.int64))
EOF
# Recall@10 of the last query run against exact search over `live` (.npy).
measure() { # label, index dir, live keys
  $vxctl query "$2" --queries "$work/q.fbin" --ef-search 40 --threads 1 --out "$work/res.npy" --json \
    >"$work/res.json" 2>/dev/null
  $py - "$work" "$1" "$3" <<'EOF'
import sys, json, numpy as np
from bench_data import read_fbin, exact_top
work, label, live = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
rows, q = read_fbin(f"{work}/all.fbin"), read_fbin(f"{work}/q.fbin")
gt = np.concatenate([exact_top(q[i:i + 50], rows[live], live) for i in range(0, len(q), 50)])
got = np.load(f"{work}/res.npy")
j = json.load(open(f"{work}/res.json"))
print(f"{label:24} recall@10 {np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, gt)]):.4f}  "
      f"SSD reads/query {j['ssd_reads_per_query']:.1f}  p50 {j['latency_us_p50'] / 1000:.2f} ms")
EOF
}
t0=$(date +%s.%N)
$vxctl build --base "$work/base.fbin" --out "$work/idx" >/dev/null 2>&1
printf 'build: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
$py -c "import numpy as np; np.save('$work/live_start.npy', np.arange($n, dtype=np.int64))"
measure "built" "$work/idx" "$work/live_start.npy"
for ((r = 0; r < rounds; ++r)); do
  $vxctl delete "$work/idx" --ids "$work/dead$r.npy" >/dev/null 2>&1
  $vxctl insert "$work/idx" --vectors "$work/new$r.fbin" --ids "$work/new$r.npy" >/dev/null 2>&1
  $vxctl vacuum "$work/idx" --json >"$work/vacuum.json" 2>/dev/null
  $py -c "import json; j = json.load(open('$work/vacuum.json')); print(f'round $((r + 1)): vacuum {j[\"seconds\"]:.1f} s, {j[\"rows_reclaimed\"]:,} reclaimed, {j[\"live\"]:,} live')"
  measure "after round $((r + 1))" "$work/idx" "$work/live$r.npy"
done
t0=$(date +%s.%N)
$vxctl build --base "$work/final.fbin" --ids "$work/final_ids.npy" --out "$work/fresh" >/dev/null 2>&1
printf 'fresh build of the final rows: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
measure "fresh build" "$work/fresh" "$work/final_ids.npy"
