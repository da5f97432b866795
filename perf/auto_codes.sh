#!/usr/bin/env bash
# The evidence behind --quant auto's ladder, and what auto picks by budget.
# For each dimension a generated cosine set (unit vectors, the embeddings'
# case): (1) each candidate code's recall@10 after reranking its best 10,
# 20 and 40 (quant-eval, one thread: train time, bytes a vector; PQ at the
# bytes of RaBitQ at 2 and 1 bits); (2) HNSW
# built with auto at the machine's RAM and at a serving budget of a quarter
# of the sq8 index, each searched at the default ef_search 40 in memory.
#
#   perf/auto_codes.sh [COUNT]                    (default 20000)
#   env: VX_BENCH_DIR (default /tmp/vx-auto), VX_DIMS (default 96,768)
# Needs a release build in build/ (or VXCTL=path). Reuses data already there.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
work=${VX_BENCH_DIR:-/tmp/vx-auto}; mkdir -p "$work"
vxctl=${VXCTL:-build/tools/vxctl}
echo "data: $n unit vectors per dimension (generated), 200 queries, k=10, cosine, m=16, ef_construction=64"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
IFS=, read -ra dims <<< "${VX_DIMS:-96,768}"
for d in "${dims[@]}"; do
  base=$work/base_${n}_$d.fbin; q=$work/q_$d.fbin; gt=$work/gt_${n}_$d.ivecs
  [ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --normalize --out "$base" --queries 200 --queries-out "$q" 2>/dev/null
  [ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --metric cosine --out "$gt" 2>/dev/null
  echo
  echo "dim $d: codes | bytes/vector | train s | recall@10 by codes, after rerank 20, after rerank 40"
  for quant in f16 sq8 rabitq:4 rabitq:2 "pq:$((d / 4))" rabitq:1 "pq:$((d / 8))"; do
    out=$($vxctl quant-eval --base "$base" --queries "$q" --gt "$gt" --quant "$quant" --metric cosine \
      --rerank 20 40 --threads 1 2>&1)
    printf '%-10s | %5s | %6s | %s / %s / %s\n' "$quant" "$(awk '/bytes per vector/ {print $4}' <<< "$out")" \
      "$(awk '/train/ {print $2}' <<< "$out")" "$(awk '/by codes/ {print $4}' <<< "$out")" \
      "$(awk '/after rerank 20/ {print $5}' <<< "$out")" "$(awk '/after rerank 40/ {print $5}' <<< "$out")"
  done
  quarter_mb=$(( (n * (d + 4 + 8 + 44) / 4 + (1 << 20) - 1) >> 20 ))
  for budget in "" "$quarter_mb"; do
    idx=$work/idx_${n}_${d}_${budget:-ram}
    rm -rf "$idx"
    $vxctl build --base "$base" --out "$idx" --metric cosine --threads 2 ${budget:+--serve-memory $budget} 2>/dev/null \
      | sed -n 's/^built [^ ]* /built /p'
    $vxctl query "$idx" --queries "$q" --gt "$gt" --memory 1024 --prewarm | grep -E "recall@10|QPS"
  done
done
