#!/usr/bin/env bash
# What RaBitQ's error bound saves in the rerank. For HNSW and IVF over one
# generated set and each rabitq width: recall@10, QPS, SSD reads and
# candidates reranked (full vectors read) per query, one thread, from a
# pool of --memory MB (default 32: the graph and a quarter of the 102 MB of
# vectors at 200k x 128, so most reranked vectors come from the SSD), the
# graph (IVF: lists) prewarmed.
#
#   perf/rerank_bound.sh [COUNT] [DIM]      (default 200000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-rerank-bound), VX_QUANTS (default
#        rabitq,rabitq:2,rabitq:4), VX_EFS (default 40,80,160,320),
#        VX_PROBES (default 1,2,4,8,16), VX_MEMORY (default 32),
#        VX_WARMUP=1: one untimed pass first (with a pool that holds the
#        index, an in-memory run: what the bound costs in CPU),
#        VXCTL_BASELINE: a vxctl that reranks every candidate (built at
#        commit 1b84064, before the bound was used); each sweep is then run
#        with it too, right after, on the same index files,
#        VX_REPEAT=N: N sweeps of each binary, alternating; QPS and p50 are
#        their medians (default 1).
# Needs a release build in build/. Reuses data and indexes already there.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-rerank-bound}; mkdir -p "$work"
vxctl=build/tools/vxctl
base=$work/base_${n}_$d.fbin; q=$work/q_$d.fbin; gt=$work/gt_${n}_$d.ivecs
echo "data: $n x $d generated (seed 11), 1000 queries, k=10, l2; HNSW m=16, ef_construction=64; IVF default lists"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p); pool ${VX_MEMORY:-32} MB, graph prewarmed"
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
IFS=, read -ra quants <<< "${VX_QUANTS:-rabitq,rabitq:2,rabitq:4}"
for type in hnsw ivf; do
  if [ "$type" = hnsw ]; then sweep="ef_search=${VX_EFS:-40,80,160,320}"; else sweep="probes=${VX_PROBES:-1,2,4,8,16}"; fi
  for quant in "${quants[@]}"; do
    idx=$work/${type}_$quant
    [ -f "$idx/MANIFEST" ] || $vxctl build --type "$type" --base "$base" --out "$idx" --quant "$quant" --threads 2 2>&1 | grep built
    reps=${VX_REPEAT:-1}
    for rep in $(seq "$reps"); do  # vx and the baseline alternate
      for bin in $vxctl ${VXCTL_BASELINE:-}; do
        label=vx; [ "$bin" = "$vxctl" ] || label=baseline
        $bin bench "$idx" --queries "$q" --gt "$gt" --sweep "$sweep" --threads 1 --memory "${VX_MEMORY:-32}" \
          --prewarm ${VX_WARMUP:+--warmup} --json "$work/$label.$rep.json" >/dev/null
      done
    done
    for label in vx ${VXCTL_BASELINE:+baseline}; do
      /usr/bin/python3 - "$type" "$quant" "$label" "$work"/"$label".*.json <<'PY'
import json, statistics, sys
typ, quant, label, *paths = sys.argv[1:]
runs = [json.load(open(p))["rows"] for p in paths]
for i, r in enumerate(runs[0]):
    knob = "ef_search" if "ef_search" in r else "probes"
    qps = statistics.median(run[i]["qps"] for run in runs)
    p50 = statistics.median(run[i]["latency_us_p50"] for run in runs)
    reranked = r.get("reranked_per_query")
    print(f"{typ:4} {quant:9} {label:8} {knob} {r[knob]:>4}  rerank {r['rerank']:>4}  "
          f"reranked/q {'-' if reranked is None else f'{reranked:7.1f}'}  recall {r['recall']:.4f}  "
          f"QPS {qps:7.0f}  p50 {p50:6.0f} us  reads/q {r['reads_per_query']:7.2f}")
PY
      rm -f "$work"/"$label".*.json
    done
  done
done
