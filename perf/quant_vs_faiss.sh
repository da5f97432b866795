#!/usr/bin/env bash
# Every vx quantizer (vxctl quant-eval) and FAISS IndexPQ (Debian's
# python3-faiss) at the same code size, on the same data, in the same run:
# bytes per vector, recall@10 by codes alone and after reranking 50 and 100,
# codes scored (with top-10 selection) per second per core; RaBitQ at 1, 2
# and 4 bits beside vx's PQ at equal bytes; pq4 (4-bit fast scan) at the
# bytes of pq:M and pq:2M.
#
#   perf/quant_vs_faiss.sh BASE QUERIES GT [PQ_M]        (PQ_M default 16)
#   perf/quant_vs_faiss.sh gen1m                          generated 1M x 128
#   env: VX_SEEDS=1,2,3,4 (also train vx's pq:M and FAISS's IndexPQ M once
#        per training seed and print those rows: one seed's recall is one
#        draw, so gaps smaller than the spread over seeds are not gaps)
# Needs: a release build in build/ and `apt-get install python3-faiss
# python3-numpy`.
set -euo pipefail
cd "$(dirname "$0")/.."
vxctl=build/tools/vxctl
if [ "${1:-}" = gen1m ]; then
  work=${VX_BENCH_DIR:-/tmp/vx-bench-quant}; mkdir -p "$work"
  base=$work/base1m.fbin; queries=$work/q1k.fbin; gt=$work/gt1k.ivecs
  [ -f "$base" ] || $vxctl gen --dim 128 --count 1000000 --seed 7 --out "$base" --queries 1000 --queries-out "$queries" 2>/dev/null
  [ -f "$gt" ] || $vxctl gt --base "$base" --queries "$queries" --k 100 --out "$gt" 2>/dev/null
  m=${2:-16}
else
  base=$1; queries=$2; gt=$3; m=${4:-16}
fi
echo "data: $base"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
printf "%-10s %6s %10s %10s %10s %14s\n" quantizer bytes r@10codes r@10rr50 r@10rr100 Mcodes/s/core
# RaBitQ at 1, 2 and 4 bits, each beside PQ with the same bytes per vector
# (PQ takes any M up to dim): B bits x ceil(dim/8)*8 / 8 + 8 bytes of factors
# (+4 for B > 1).
dim=$(/usr/bin/python3 -c "import sys, numpy as np; p = sys.argv[1]
print(int(np.fromfile(p, dtype=np.uint32, count=2)[1]) if p.endswith('.fbin') else int(np.fromfile(p, dtype=np.int32, count=1)[0]))" "$base")
rabitq_bytes() { echo $(( $1 * ((dim + 7) / 8 * 8) / 8 + ($1 > 1 ? 12 : 8) )); }
equal=""
for b in 1 2 4; do
  rb=$(rabitq_bytes $b)
  equal="$equal rabitq:$b"
  [ "$rb" -le "$dim" ] && equal="$equal pq:$rb"
done
# One vx row: quant-eval QUANT, its name followed by SUFFIX; further
# arguments go to quant-eval.
vx_row() {
  local q=$1 suffix=$2; shift 2
  $vxctl quant-eval --base "$base" --queries "$queries" --gt "$gt" --quant "$q" --rerank 50,100 --json "$@" |
    /usr/bin/python3 -c "$(cat <<'PY'
import json, sys
j = json.load(sys.stdin)
print("%-10s %6d %10.4f %10.4f %10.4f %14.1f" % (j["quant"] + sys.argv[1], j["bytes_per_vector"], j["recall@10_codes"],
      j["recall@10_rerank50"], j["recall@10_rerank100"], j["codes_scored_per_s_per_core"] / 1e6))
PY
)" "$suffix"
}
# pq4 (4-bit fast scan) at the bytes of pq:M and pq:2M.
for q in f16 sq8 pq:$m pq:$((m * 2)) pq4:$((m * 2)) pq4:$((m * 4)) $equal; do vx_row "$q" ""; done
for seed in ${VX_SEEDS//,/ }; do vx_row "pq:$m" " s$seed" --seed "$seed"; done
/usr/bin/python3 - "$base" "$queries" "$gt" "$m" "${VX_SEEDS:-}" <<'PY'
import sys, time, numpy as np, faiss
def load(p):
    if p.endswith(".fbin"):
        n, d = np.fromfile(p, dtype=np.uint32, count=2); return np.fromfile(p, dtype=np.float32, offset=8).reshape(int(n), int(d))
    if p.endswith(".fvecs"):
        a = np.fromfile(p, dtype=np.int32); d = a[0]; return a.reshape(-1, d + 1)[:, 1:].copy().view(np.float32)
    if p.endswith(".ivecs"):
        a = np.fromfile(p, dtype=np.int32); d = a[0]; return a.reshape(-1, d + 1)[:, 1:].copy()
    raise SystemExit("unsupported " + p)
xb, xq, gt = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])[:, :10]
def recall(I): return np.mean([len(set(I[i, :10]) & set(gt[i])) / 10 for i in range(len(xq))])
def trained(m, seed=None):
    index = faiss.IndexPQ(xb.shape[1], m, 8)
    if seed is not None: index.pq.cp.seed = seed  # k-means sampling and seeding (FAISS's default: 1234)
    rng = np.random.default_rng(1 if seed is None else seed)
    train = xb if len(xb) <= 100000 else xb[rng.choice(len(xb), 100000, replace=False)]
    index.train(train); index.add(xb)
    return index
def recalls(index):
    """recall@10 by codes, after reranking 50 and after reranking 100."""
    faiss.omp_set_num_threads(2)
    _, I = index.search(xq, 10)
    out = [recall(I)]
    for R in (50, 100):
        _, C = index.search(xq, R)
        rr = np.empty((len(xq), 10), dtype=np.int64)
        for i in range(len(xq)):
            d = ((xb[C[i]] - xq[i]) ** 2).sum(1); rr[i] = C[i][np.argsort(d, kind="stable")[:10]]
        out.append(recall(rr))
    return out
for m in (int(sys.argv[4]), 2 * int(sys.argv[4])):
    index = trained(m)
    faiss.omp_set_num_threads(1)
    timed, t0 = 0, time.time()
    while time.time() - t0 < 1.0:  # at least a second of scoring, as vx
        index.search(xq, 10); timed += len(xq)
    dt = time.time() - t0
    r = recalls(index)
    print(f"{'faiss pq:'+str(m):<10} {m:6d} {r[0]:10.4f} {r[1]:10.4f} {r[2]:10.4f} {timed*len(xb)/dt/1e6:14.1f}")
for seed in [int(s) for s in sys.argv[5].split(",") if s]:
    m = int(sys.argv[4]); r = recalls(trained(m, seed))
    print(f"{'faiss pq:'+str(m)+' s'+str(seed):<10} {m:6d} {r[0]:10.4f} {r[1]:10.4f} {r[2]:10.4f} {'-':>14}")
PY
