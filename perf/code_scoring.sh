#!/usr/bin/env bash
# Nanoseconds a code, per code kind and dimension (bench_distance's
# BM_CodeScore: one Score call a code, as a search's walk makes them), for
# the release build in build/ and, with OLD_REV, for bench_distance built at
# OLD_REV from this tree's perf/bench_distance.cc, alternating, VX_ROUNDS
# rounds; prints each setting's median.
#
#   perf/code_scoring.sh [OLD_REV]
#   env: VX_BUILD (default build), VX_ROUNDS (default 3), VX_FILTER (default
#        all of BM_CodeScore), VX_BENCH_DIR (default /tmp/vx-code-scoring)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VX_BUILD:-build}; rounds=${VX_ROUNDS:-3}
filter=${VX_FILTER:-BM_CodeScore}
work=${VX_BENCH_DIR:-/tmp/vx-code-scoring}; mkdir -p "$work"
bins=("new=$PWD/$build/perf/bench_distance")
if [ $# -ge 1 ]; then
  old_src=$work/old-$1
  [ -d "$old_src" ] || git worktree add --detach "$old_src" "$1" >/dev/null
  cp perf/bench_distance.cc "$old_src/perf/bench_distance.cc"
  (cd "$old_src" && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_TESTS=OFF -DVX_BUILD_PYTHON=OFF \
     -DVX_BUILD_PERF=ON >/dev/null && cmake --build build -j"$(nproc)" --target bench_distance >/dev/null)
  bins=("old=$old_src/build/perf/bench_distance" "${bins[@]}")
fi
echo "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for round in $(seq "$rounds"); do
  for b in "${bins[@]}"; do
    "${b#*=}" --benchmark_filter="$filter" --benchmark_min_time=0.3 --benchmark_format=json 2>/dev/null > "$work/${b%%=*}_$round.json"
  done
done
/usr/bin/python3 - "$work" "$rounds" "${bins[@]%%=*}" <<'PY'
import json, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
table = {}
for name in names:
    for r in range(1, rounds + 1):
        for b in json.load(open(f"{work}/{name}_{r}.json"))["benchmarks"]:
            table.setdefault(b["name"], {}).setdefault(name, []).append(b["ns_per_dist"])
print(f"{'benchmark':<36}" + "".join(f"{n + ' ns':>12}" for n in names) + ("   old/new" if len(names) == 2 else ""))
for bench, by in table.items():
    med = [statistics.median(by[n]) for n in names]
    print(f"{bench:<36}" + "".join(f"{m:12.1f}" for m in med) + (f"{med[0] / med[1]:10.2f}" if len(names) == 2 else ""))
PY
