#!/usr/bin/env bash
# The default codes (`--quant auto`) by dimension, in memory beside hnswlib
# and FAISS (perf/hnsw_vs_peers.sh), then under a cap of 1/4 of the index
# with auto given that cap (perf/hnsw_cap_auto.sh; with VXCTL_BASELINE, an
# older vxctl beside it), and the real 10k sets of ../shared/data in memory.
#
#   perf/auto_matrix.sh [SETS...]
#   SETS: COUNTxDIM:METRIC, default 200000x96:l2 200000x128:l2
#         200000x384:cosine 200000x768:cosine 200000x1536:cosine
#   env: VX_MATRIX_DIR (default /tmp/vx-matrix), VX_CAP_SETS (sets also
#        served under the cap; default 1000000x128:l2 and the 384-1536 sets:
#        200k vectors of 96 or 128 dims make a cap below what the process
#        itself holds), VX_REAL=0 (leave out siftsmall and bigann-10k),
#        VXCTL_BASELINE
# Each set's output goes to its directory's log and to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${VX_MATRIX_DIR:-/tmp/vx-matrix}
sets=${*:-200000x96:l2 200000x128:l2 200000x384:cosine 200000x768:cosine 200000x1536:cosine}
cap_sets=${VX_CAP_SETS:-1000000x128:l2 200000x384:cosine 200000x768:cosine 200000x1536:cosine}
export VX_EFS=${VX_EFS:-10,20,40,80,160}

run_set() {  # COUNTxDIM:METRIC, in memory, then under the cap if listed
  local spec=$1 n d metric dir
  n=${spec%%x*}; d=${spec#*x}; d=${d%%:*}; metric=${spec#*:}
  dir=$root/${n}x${d}_${metric}
  echo "=== $spec in memory"
  VX_METRIC=$metric VX_BENCH_DIR=$dir VX_REUSE=1 perf/hnsw_vs_peers.sh "$n" "$d" 2>&1 | tee "$dir.log"
  if [[ " $cap_sets " == *" $spec "* ]]; then
    echo "=== $spec under a cap of 1/4"
    VX_EFS="20 40 80 160" VX_METRIC=$metric perf/hnsw_cap_auto.sh "$dir" 2>&1 | tee "$dir.cap.log"
  fi
}

mkdir -p "$root"
for spec in $sets; do run_set "$spec"; done
for spec in $cap_sets; do
  [[ " $sets " == *" $spec "* ]] && continue
  n=${spec%%x*}; d=${spec#*x}; d=${d%%:*}; metric=${spec#*:}
  mkdir -p "$root/${n}x${d}_${metric}"
  # The cap script sizes its cap from the in-memory index: build it, and
  # leave the peers out (sets this large are for the cap's figures).
  VX_EFS=40 VX_FAISS=0 VX_METRIC=$metric VX_BENCH_DIR=$root/${n}x${d}_${metric} VX_REUSE=1 \
    perf/hnsw_vs_peers.sh "$n" "$d" > "$root/${n}x${d}_${metric}.log" 2>&1 || true
  echo "=== $spec under a cap of 1/4"
  VX_EFS="20 40 80 160" VX_METRIC=$metric perf/hnsw_cap_auto.sh "$root/${n}x${d}_${metric}" 2>&1 |
    tee "$root/${n}x${d}_${metric}.cap.log"
done

if [ "${VX_REAL:-1}" = 1 ]; then
  # siftsmall (float) and bigann-10k (uint8), as fbin with their own
  # top-100 ground truth; their 100 queries repeated 100 times (one pass
  # takes about 2 ms, too short to time).
  for set in siftsmall bigann-10k; do
    dir=$root/$set; mkdir -p "$dir"
    /usr/bin/python3 - ../shared/data/$set "$dir" <<'PY'
import glob, os, sys, numpy as np
src, out = sys.argv[1:3]
def vecs(p):
    dt = np.uint8 if p.endswith(".bvecs") else np.float32
    raw = np.fromfile(p, dtype=np.uint8); d = int(raw[:4].view(np.int32)[0])
    return raw.reshape(-1, 4 + d * np.dtype(dt).itemsize)[:, 4:].copy().view(dt).reshape(-1, d).astype(np.float32)
def fbin(p, a): open(p, "wb").write(np.array(a.shape, dtype=np.uint32).tobytes() + a.tobytes())
b = vecs(glob.glob(src + "/*_base.*vecs")[0]); q = vecs(glob.glob(src + "/*_query.*vecs")[0])
fbin(f"{out}/base_{len(b)}_{b.shape[1]}.fbin", b); fbin(f"{out}/q_{b.shape[1]}.fbin", np.tile(q, (100, 1)))
gt = open(glob.glob(src + "/*_groundtruth.ivecs")[0], "rb").read()
open(f"{out}/gt_{len(b)}_{b.shape[1]}.ivecs", "wb").write(gt * 100)
open(f"{out}/ORIGIN", "w").write(os.path.basename(src) + ", ../shared/data, its 100 queries repeated 100 times")
PY
    echo "=== $set in memory"
    VX_BENCH_DIR=$dir VX_REUSE=1 perf/hnsw_vs_peers.sh 10000 128 2>&1 | tee "$dir.log"
  done
fi

# One row per set: auto's pick and its resident bytes per vector, the build
# times, and each engine's QPS at the smallest ef_search reaching 0.95.
/usr/bin/python3 - "$root" build/tools/vxctl <<'PY'
import glob, os, re, subprocess, sys
root, vxctl = sys.argv[1:3]
print("| set | auto: codes, resident B/vector | build s vx / hnswlib / FAISS | threads | vx: ef, recall, QPS | hnswlib | FAISS | vx / hnswlib, vx / FAISS |")
print("|---|---|---|---|---|---|---|---|")
for log in sorted(glob.glob(root + "/*.log")):
    if log.endswith(".cap.log"): continue
    text = open(log).read(); name = os.path.basename(log)[:-4]
    pick = re.search(r"codes auto: (\S+)", text)
    info = subprocess.run([vxctl, "info", log[:-4] + "/idx"], capture_output=True, text=True).stdout
    per = re.search(r"always in RAM: .*\(([\d.]+) bytes/vector", info)
    builds = {e: re.search(rf"^{e} build: ([\d.]+) s", text, re.M) for e in ("vx", "hnswlib", "faiss")}
    b = " / ".join(m.group(1) if m else "-" for m in builds.values())
    for t in (1, 2):
        best = {}
        for e in ("vx", "hnswlib", "faiss"):
            m = re.search(rf"^  {e} +threads {t}: ef (\d+), recall ([\d.]+), QPS (\d+)", text, re.M)
            best[e] = m.groups() if m else None
        cell = lambda e: f"{best[e][0]}, {best[e][1]}, {int(best[e][2]):,}" if best[e] else "below 0.95"
        ratio = lambda e: f"{int(best['vx'][2]) / int(best[e][2]):.2f}x" if best["vx"] and best[e] else "-"
        print(f"| {name} | {pick.group(1) if pick else '-'}, {per.group(1) if per else '-'} | {b} | {t} | "
              f"{cell('vx')} | {cell('hnswlib')} | {cell('faiss')} | {ratio('hnswlib')}, {ratio('faiss')} |")
PY
