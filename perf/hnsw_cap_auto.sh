#!/usr/bin/env bash
# The default `--quant auto` given a serving budget of 1/4 of the index, and
# served under that cap (../shared/tools/memcap counts the page cache): for
# each ef_search a fresh process, the graph prewarmed, one thread; recall@10,
# QPS, SSD reads and round trips per query, vectors reranked. With
# VXCTL_BASELINE (an older vxctl) the same index is also served by it, in the
# same run, for its reads beside today's.
#
#   perf/hnsw_cap_auto.sh DIR
#   DIR: a VX_BENCH_DIR of perf/hnsw_vs_peers.sh (its data, ground truth and
#        in-memory index `idx`, whose graph and vectors files size the cap);
#        VX_METRIC as given to it.
#   env: VX_EFS (default 20,40,80,160), VXCTL_BASELINE, VX_METRIC,
#        VX_STORAGE=f16 (full vectors as halfvec, in DIR/idx_cap_f16; the cap
#        stays 1/4 of the f32 index's)
# Needs root for memcap. Writes DIR/cap.jsonl (one object per run).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?usage: perf/hnsw_cap_auto.sh DIR}
vxctl=build/tools/vxctl
memcap=../shared/tools/memcap
metric=${VX_METRIC:-l2}
suffix=; [ "$metric" = cosine ] && suffix=_unit
base=$(ls "$work"/base_*.fbin 2>/dev/null | grep -E -- "_[0-9]+${suffix}\.fbin$" | head -1 || true)
[ -n "$base" ] || { echo "no $metric base in $work: run perf/hnsw_vs_peers.sh there first" >&2; exit 2; }
stem=$(basename "$base" .fbin); stem=${stem#base_}            # N_D[_unit]
d=$(echo "$stem" | cut -d_ -f2)
q=$work/q_${d}${suffix}.fbin; gt=$work/gt_${stem}.ivecs
on_ssd=$(( $(stat -c %s "$work"/idx/gen-*/graph) + $(stat -c %s "$work"/idx/gen-*/vectors) ))
cap_mb=$(( on_ssd / 4 / 1048576 ))
echo "data: $stem ($metric); graph + vectors on SSD $(( on_ssd / 1048576 )) MiB; memcap and --serve-memory $cap_mb MiB (1/4)"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
storage=${VX_STORAGE:-f32}
idx=$work/idx_cap; [ "$storage" = f32 ] || idx=$work/idx_cap_$storage
if [ ! -f "$idx/MANIFEST" ]; then
  /usr/bin/time -f "vx build: %e s, peak RSS %M KB" $vxctl build --base "$base" --out "$idx" --threads 2 \
    --ef-construction "${VX_EFC:-64}" --metric "$metric" --serve-memory "$cap_mb" --storage "$storage" 2>&1 |
    grep -E "vx build|built"
fi
$vxctl info "$idx" | grep -E "codes|always in RAM|storage"
resident_mb=$(( $($vxctl info "$idx" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["resident_bytes"])') / 1048576 ))
# The pool: the cap less the resident codes and what the process itself
# holds: binary, libraries and scratch (12 MiB), and twice the query file
# (at 1536 dims the process held 18 MB beside pool and codes).
q_mb=$(( $(stat -c %s "$q") / 1048576 ))
pool_mb=$(( cap_mb - resident_mb - 12 - 2 * q_mb ))
[ "$pool_mb" -ge 4 ] || { echo "the cap leaves a pool of $pool_mb MiB beside $resident_mb MiB resident" >&2; exit 1; }
echo "resident $resident_mb MiB; pool $pool_mb MiB"
: > "$work/cap.jsonl"
printf "%-9s %5s %9s %7s %8s %8s %9s\n" engine ef recall QPS reads/q trips/q reranked/q
for ef in ${VX_EFS:-20 40 80 160}; do
  for bin in "$vxctl" ${VXCTL_BASELINE:-}; do
    name=vx; [ "$bin" = "$vxctl" ] || name=baseline
    $memcap "$cap_mb" "$bin" query "$idx" --queries "$q" --gt "$gt" --ef-search "$ef" --memory "$pool_mb" \
      --prewarm --json "$work/run.json" > /dev/null 2>&1 || { echo "$name ef $ef: failed under the cap" >&2; continue; }
    /usr/bin/python3 - "$work/run.json" "$name" "$ef" "$work/cap.jsonl" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j["engine"] = sys.argv[2]
open(sys.argv[4], "a").write(json.dumps(j) + "\n")
g = lambda *ks: next((j[k] for k in ks if k in j), float("nan"))
print(f"{sys.argv[2]:<9} {int(sys.argv[3]):5d} {g('recall@10'):9.4f} {g('qps'):7.0f} {g('ssd_reads_per_query'):8.2f} "
      f"{g('round_trips_per_query'):8.2f} {g('reranked_per_query'):9.1f}")
PY
  done
done
