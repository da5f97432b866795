#!/usr/bin/env bash
# vx's IVF served from SSD under a memory cap of 1/8 of the index (memcap
# counts the page cache), beside FAISS IndexIVFFlat and IndexIVFPQ (Debian's
# python3-faiss) in memory with the same number of lists, on the same
# generated data, in the same run: build time and peak RSS, then per probes
# recall@10, QPS, latency, reads and bytes read per query, on 1 and 2 threads.
#
#   perf/ivf_vs_faiss.sh [COUNT] [DIM]          (defaults 5000000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-bench-ivf), VX_REPLICAS (default 2),
#        VX_PROBES (default 1,2,4,8,16,32,64,128), VX_QUANT (default auto),
#        VX_PEERS=0 (vx only, no FAISS), VX_REUSE=1 (keep an index already built
#        in VX_BENCH_DIR)
# Needs root for memcap (../shared/tools/memcap).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-bench-ivf}; mkdir -p "$work"
replicas=${VX_REPLICAS:-2}; probes=${VX_PROBES:-1,2,4,8,16,32,64,128}
vxctl=build/tools/vxctl
memcap=../shared/tools/memcap
base=$work/base_${n}_${d}.fbin; q=$work/q_${d}.fbin; gt=$work/gt_${n}_${d}.ivecs
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --out "$gt" 2>/dev/null
warm=$work/warm10k.fbin  # warm-up: 10,000 random base vectors, not the measured queries
[ -f "$warm" ] || /usr/bin/python3 - "$base" "$warm" <<'PY'
import sys, numpy as np
n, d = np.fromfile(sys.argv[1], dtype=np.uint32, count=2)
b = np.memmap(sys.argv[1], dtype=np.float32, mode="r", offset=8, shape=(int(n), int(d)))
w = np.ascontiguousarray(b[np.sort(np.random.default_rng(7).choice(int(n), 10000, replace=False))])
open(sys.argv[2], "wb").write(np.array(w.shape, dtype=np.uint32).tobytes() + w.tobytes())
PY
echo "data: $n x $d f32 (generated, seed 11), 1000 queries, k=10, l2"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $($vxctl version | sed -n 2p)"
if [ "${VX_REUSE:-0}" = 1 ] && [ -f "$work/idx/MANIFEST" ]; then
  echo "vx build: reusing $work/idx"
else
  rm -rf "$work/idx"
  /usr/bin/time -f "vx build: %e s, peak RSS %M KB" $vxctl build --type ivf --base "$base" --out "$work/idx" \
    --replicas "$replicas" --quant "${VX_QUANT:-auto}" --threads "$(nproc)" 2>&1 | grep -E "vx build|built"
fi
$vxctl info "$work/idx" | sed -n 1,5p
index_mb=$(( ($(stat -c %s "$work"/idx/gen-*/lists) + $(stat -c %s "$work"/idx/gen-*/vectors)) / 1048576 ))
cap_mb=$(( index_mb / 8 ))
pool_mb=$(( cap_mb * 3 / 4 ))  # the rest: the process itself (binary, libraries, queries, scratch)
echo "index on disk: $index_mb MiB; memcap $cap_mb MiB (1/8); buffer pool $pool_mb MiB"
$memcap "$cap_mb" $vxctl bench "$work/idx" --queries "$q" --gt "$gt" --sweep "probes=$probes" --threads 1,2 \
  --memory "$pool_mb" --warmup --warmup-queries "$warm" --json "$work/vx.json"
[ "${VX_PEERS:-1}" = 1 ] || exit 0
lists=$($vxctl info "$work/idx" | sed -n 's/.*lists \([0-9]*\) .*/\1/p')
/usr/bin/python3 - "$base" "$q" "$gt" "$lists" "$probes" "$work"/idx/gen-*/centroids <<'PY'
import sys, time, resource, numpy as np, faiss
def fbin(p):
    n, d = np.fromfile(p, dtype=np.uint32, count=2); return np.fromfile(p, dtype=np.float32, offset=8).reshape(int(n), int(d))
xb, xq = fbin(sys.argv[1]), fbin(sys.argv[2])
a = np.fromfile(sys.argv[3], dtype=np.int32); gt = a.reshape(-1, a[0] + 1)[:, 1:11]
lists = int(sys.argv[4]); probes = [int(p) for p in sys.argv[5].split(",")]
def recall(I): return np.mean([len(set(I[i, :10]) & set(gt[i])) / 10 for i in range(len(xq))])
# The same training-sample size vx uses: max(64 * lists, 65536).
rng = np.random.default_rng(11)
sample = xb[rng.choice(len(xb), min(len(xb), max(64 * lists, 65536)), replace=False)]
faiss.omp_set_num_threads(2)
# IVFFlat-vxlists: IVFFlat over vx's own centroids (each row in the list of
# its nearest, no replicas), which separates vx's partition from its codes.
vx_centroids = np.fromfile(sys.argv[6], dtype=np.float32).reshape(lists, xb.shape[1])
for name, make in (("IVFFlat", lambda qz: faiss.IndexIVFFlat(qz, xb.shape[1], lists)),
                   ("IVFFlat-vxlists", lambda qz: faiss.IndexIVFFlat(qz, xb.shape[1], lists)),
                   ("IVFPQ32", lambda qz: faiss.IndexIVFPQ(qz, xb.shape[1], lists, xb.shape[1] // 4, 8))):
    faiss.omp_set_num_threads(2)
    qz = faiss.IndexFlatL2(xb.shape[1]); idx = make(qz)
    t0 = time.time()
    if name.endswith("vxlists"):
        qz.add(vx_centroids); idx.is_trained = True
    else:
        idx.train(sample)
    idx.add(xb)
    trained = "vx's centroids" if name.endswith("vxlists") else f"train on {len(sample)}"
    print(f"faiss {name} build ({trained}, add {len(xb)}): {time.time()-t0:.1f} s, process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
    for t in (1, 2):
        faiss.omp_set_num_threads(t)
        for p in probes:
            idx.nprobe = p; t0 = time.time(); _, I = idx.search(xq, 10); dt = time.time() - t0
            print(f"faiss {name} threads {t} probes {p:4d} recall {recall(I):.4f} QPS {len(xq)/dt:8.0f}")
    del idx, qz
PY
