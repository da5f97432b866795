#!/usr/bin/env bash
# Two vxctl binaries side by side on the same data: the release build in
# build/ ("new") and one built from an older commit ("old"), each serving an
# index it built itself (their file formats may differ), for HNSW and IVF,
# in memory and under a memory cap of 1/4 of the index (the page cache
# counted). Every measurement alternates old and new, VX_ROUNDS rounds, in
# one run; the summary gives each setting's recall for both binaries and
# the median of new/old QPS over the rounds.
#
#   perf/before_after.sh OLD_REV [COUNT] [DIM]      (defaults 1000000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-before-after), VX_ROUNDS (default 3),
#        VX_EFS (default 20,40,80,160), VX_PROBES (default 1,2,4,8,16),
#        VX_PREPARE_ONLY=1: stop after building the binaries, data and indexes,
#        VX_BUILD_THREADS (default all cores; 1 builds the same HNSW graph
#        every time, so recall compares exactly), VX_BUILD_ARGS (extra
#        build flags for both binaries, e.g. --quant pq:32),
#        VX_SETTINGS (default "memory cap": which runs to make; the summary
#        reads both), VX_OVERHEAD_MB (default 40: the capped process's memory
#        beside the index's resident part and its pool), VX_BUILD (the new
#        binary's build tree, default build)
# Needs root for memcap (../shared/tools/memcap), python3-numpy for the
# warm-up sample, and a release build in build/. Reuses data, the old
# binary and indexes already in VX_BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: perf/before_after.sh OLD_REV [COUNT] [DIM]}
n=${2:-1000000}; d=${3:-128}
work=${VX_BENCH_DIR:-/tmp/vx-before-after}; mkdir -p "$work"
rounds=${VX_ROUNDS:-3}
new=$PWD/${VX_BUILD:-build}/tools/vxctl
memcap=$PWD/../shared/tools/memcap
old_src=$work/old-src
old=$old_src/build/tools/vxctl

# 1. The old binary, built from OLD_REV in a worktree.
if [ ! -x "$old" ]; then
  [ -d "$old_src" ] || git worktree add --detach "$old_src" "$rev" >/dev/null
  (cd "$old_src" && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_TESTS=OFF -DVX_BUILD_PERF=OFF >/dev/null &&
    cmake --build build -j"$(nproc)" --target vxctl >/dev/null)
fi

# 2. Data, exact ground truth, and 10,000 base vectors to warm a capped pool
# with (so that the measured queries' own pages are not pre-read).
base=$work/base_${n}_$d.fbin; q=$work/q_$d.fbin; gt=$work/gt_${n}_$d.ivecs; warm=$work/warm10k.fbin
[ -f "$base" ] || $new gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$gt" ] || $new gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
[ -f "$warm" ] || /usr/bin/python3 - "$base" "$warm" <<'PY'
import sys, numpy as np
n, d = np.fromfile(sys.argv[1], dtype=np.uint32, count=2)
b = np.memmap(sys.argv[1], dtype=np.float32, mode="r", offset=8, shape=(int(n), int(d)))
w = np.ascontiguousarray(b[np.sort(np.random.default_rng(7).choice(int(n), 10000, replace=False))])
open(sys.argv[2], "wb").write(np.array(w.shape, dtype=np.uint32).tobytes() + w.tobytes())
PY
echo "old: $rev ($(git log -1 --format=%h "$rev")); new: $(git log -1 --format=%h HEAD)$(git diff --quiet HEAD -- src include || echo ' + uncommitted changes')"
echo "data: $n x $d generated (seed 11), 1000 queries, exact top-10, l2; HNSW m 16, ef_construction 64; IVF pgvector's lists; codes auto"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $($new version | sed -n 2p)"

# 3. Each binary builds its own indexes.
for type in hnsw ivf; do
  for bin in old new; do
    idx=$work/${bin}_$type
    if [ ! -f "$idx/MANIFEST" ]; then
      exe=$old; [ $bin = new ] && exe=$new
      /usr/bin/time -f "$bin $type build: %e s, peak RSS %M KB" "$exe" build --type "$type" --base "$base" --out "$idx" \
        --threads "${VX_BUILD_THREADS:-$(nproc)}" ${VX_BUILD_ARGS:-} 2>&1 | grep -E "build:|built"
    fi
  done
done

[ "${VX_PREPARE_ONLY:-0}" = 1 ] && exit 0

# One sweep: bench_one BIN TYPE SETTING OUT_JSON [memcap MB] (pool and
# warm-up chosen by SETTING: "memory" or "cap").
bench_one() {
  local bin=$1 type=$2 setting=$3 out=$4
  local exe=$old; [ "$bin" = new ] && exe=$new
  local idx=$work/${bin}_$type sweep
  if [ "$type" = hnsw ]; then sweep="ef_search=${VX_EFS:-20,40,80,160}"; else sweep="probes=${VX_PROBES:-1,2,4,8,16}"; fi
  local index_mb resident_mb
  index_mb=$(( $(du -b -c "$idx"/gen-*/* | tail -1 | cut -f1) / 1048576 ))
  if [ "$setting" = memory ]; then
    "$exe" bench "$idx" --queries "$q" --gt "$gt" --sweep "$sweep" --threads 1 --memory $((index_mb + 64)) \
      --warmup --json "$out" >/dev/null
  else
    resident_mb=$("$exe" info "$idx" | sed -n 's/.*always in RAM: \([0-9.]*\) MB.*/\1/p' | cut -d. -f1)
    local cap=$((index_mb / 4)) pool
    pool=$((cap - resident_mb - ${VX_OVERHEAD_MB:-40}))  # the rest: binary, libraries, queries, ground truth, scratch
    "$memcap" "$cap" "$exe" bench "$idx" --queries "$q" --gt "$gt" --sweep "$sweep" --threads 1 --memory "$pool" \
      --warmup --warmup-queries "$warm" --json "$out" >/dev/null
    echo "$type under memcap $cap MiB (index $index_mb MiB, resident $resident_mb MiB, pool $pool MiB): $bin" >&2
  fi
}

for setting in ${VX_SETTINGS:-memory cap}; do
  for type in hnsw ivf; do
    for r in $(seq "$rounds"); do
      for bin in old new; do bench_one "$bin" "$type" "$setting" "$work/${setting}_${type}_${bin}_$r.json"; done
    done
  done
done

# 4. Summary: per setting, recall of both, QPS per round, median new/old.
/usr/bin/python3 - "$work" "$rounds" <<'PY'
import json, os, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
for setting in ("memory", "cap"):
  for typ in ("hnsw", "ivf"):
    if not os.path.exists(f"{work}/{setting}_{typ}_new_{rounds}.json"):
      continue  # not run (VX_SETTINGS)
    knob = "ef_search" if typ == "hnsw" else "probes"
    runs = {b: [json.load(open(f"{work}/{setting}_{typ}_{b}_{r}.json"))["rows"] for r in range(1, rounds + 1)] for b in ("old", "new")}
    where = "in memory" if setting == "memory" else "under the 1/4 memcap"
    print(f"\n{typ.upper()} {where}")
    print(f"| {knob} | recall@10 old / new | reads/q old / new | round trips/q old / new | QPS old (rounds) | QPS new (rounds) | new/old (median) |")
    print("|---:|---|---|---|---|---|---:|")
    for i, row in enumerate(runs["old"][0]):
      o = [runs["old"][r][i] for r in range(rounds)]
      w = [runs["new"][r][i] for r in range(rounds)]
      ratio = statistics.median(w[r]["qps"] / o[r]["qps"] for r in range(rounds))
      print(f"| {row[knob]} | {o[0]['recall']:.4f} / {w[0]['recall']:.4f} | {o[0]['reads_per_query']:.1f} / {w[0]['reads_per_query']:.1f} "
            f"| {o[0]['round_trips_per_query']:.2f} / {w[0]['round_trips_per_query']:.2f} "
            f"| {' / '.join(format(x['qps'], ',.0f') for x in o)} | {' / '.join(format(x['qps'], ',.0f') for x in w)} | {ratio:.2f} |")
PY
