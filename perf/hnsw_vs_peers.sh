#!/usr/bin/env bash
# vx's HNSW (served warm: a pool holding the whole index, one untimed pass
# first) beside hnswlib and
# FAISS IndexHNSWFlat (Debian's python3-hnswlib, python3-faiss), in memory, on
# the same generated data, same m and ef_construction, in the same run:
# build time and peak memory, then recall@10 and QPS per ef_search on 1 and 2
# threads, and each engine's QPS at the smallest ef_search reaching 0.95.
#
#   perf/hnsw_vs_peers.sh [COUNT] [DIM]          (defaults 200000 128)
#   env: VX_BENCH_DIR (default /tmp/vx-bench-hnsw), VX_EFS (default
#        10,20,40,80,160), VX_REUSE=1 (serve an index already built there
#        instead of rebuilding it; its build time is then not printed),
#        VX_EFC (ef_construction of all engines, default 64), VX_BUILD_ARGS
#        (extra vx build flags, e.g. --quant pq:32),
#        VX_FAISS=0 (leave FAISS out: its 5M build takes over 26 minutes on
#        2 cores), VX_PEER_CACHE=1 (save each peer's index in VX_BENCH_DIR
#        after building it, and load it instead of building when it is
#        there; the build line then repeats the figures of the run that
#        built it; FAISS then builds in chunks of 1M and resumes an
#        interrupted build; VX_FAISS_CHUNK sets the chunk size),
#        VX_METRIC=cosine (unit vectors, `gen --normalize`: the embeddings'
#        case; hnswlib's cosine space, FAISS inner product; default l2)
# Writes vx.json and peers.json in VX_BENCH_DIR: `perf/plot.sh vx.json
# peers.json out.png` draws them.
# Needs: a release build in build/ and `apt-get install python3-hnswlib
# python3-faiss python3-numpy`.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}; d=${2:-128}
work=${VX_BENCH_DIR:-/tmp/vx-bench-hnsw}; mkdir -p "$work"
vxctl=build/tools/vxctl
base=$work/base_${n}_${d}.fbin; q=$work/q_${d}.fbin; gt=$work/gt_${n}_${d}.ivecs
metric=${VX_METRIC:-l2}
case $metric in
  l2) normalize= ;;
  cosine) normalize=--normalize; base=$work/base_${n}_${d}_unit.fbin; q=$work/q_${d}_unit.fbin; gt=$work/gt_${n}_${d}_unit.ivecs ;;
  *) echo "VX_METRIC: l2 or cosine" >&2; exit 2 ;;
esac
origin="generated, seed 11${normalize:+, unit vectors}"
[ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 $normalize --out "$base" --queries 1000 --queries-out "$q" 2>/dev/null
[ -f "$work/ORIGIN" ] && origin=$(cat "$work/ORIGIN")  # data placed there by hand (perf/auto_matrix.sh's real sets)
[ -f "$gt" ] || $vxctl gt --base "$base" --queries "$q" --k 10 --metric "$metric" --out "$gt" 2>/dev/null
efc=${VX_EFC:-64}
echo "data: $n x $d ($origin), $(( ($(stat -c %s "$q") - 8) / (4 * d) )) queries, k=10, $metric, m=16, ef_construction=$efc, 2 build threads"
echo "machine: $(nproc) cores; $($vxctl version | sed -n 2p)"
efs=${VX_EFS:-10,20,40,80,160}
if [ "${VX_REUSE:-0}" != 1 ] || [ ! -f "$work/idx/MANIFEST" ]; then
  rm -rf "$work/idx"
  /usr/bin/time -f "vx build: %e s, peak RSS %M KB" $vxctl build --base "$base" --out "$work/idx" --threads 2 --ef-construction "$efc" --metric "$metric" \
    ${VX_BUILD_ARGS:-} 2>&1 | grep -E "vx build|built"
fi
mem=$(( ($(stat -c %s "$work"/idx/gen-*/graph) + $(stat -c %s "$work"/idx/gen-*/vectors)) / 1048576 + 16 ))
$vxctl bench "$work/idx" --queries "$q" --gt "$gt" --sweep "ef_search=$efs" --threads 1,2 --memory "$mem" --warmup --json "$work/vx.json" | grep -v "^threads"
/usr/bin/python3 - "$base" "$q" "$gt" "$work/vx.json" "$efs" "${VX_FAISS:-1}" "$efc" "${VX_PEER_CACHE:-0}" "$work" "$metric" <<'PY'
import os, sys, time, json, resource, numpy as np
def fbin(p):
    n, d = np.fromfile(p, dtype=np.uint32, count=2); return np.fromfile(p, dtype=np.float32, offset=8).reshape(int(n), int(d))
xb, xq = fbin(sys.argv[1]), fbin(sys.argv[2])
a = np.fromfile(sys.argv[3], dtype=np.int32); gt = a.reshape(-1, a[0] + 1)[:, 1:11]
def recall(I): return np.mean([len(set(I[i, :10]) & set(gt[i])) / 10 for i in range(len(xq))])
efs = [int(e) for e in sys.argv[5].split(",")]
cache = sys.argv[8] == "1"
cosine = sys.argv[10] == "cosine"  # unit vectors: FAISS's inner product ranks as cosine
def cached(name):
    """(index path, earlier build line or None) of a peer's saved index."""
    path = os.path.join(sys.argv[9], f"{name}_{len(xb)}x{xb.shape[1]}_{cosine and 'cos' or 'l2'}_m16_efc{sys.argv[7]}")
    line = open(path + ".build").read().strip() if cache and os.path.exists(path + ".build") else None
    return path, line
def built(path, line):
    """Prints a peer's build line; with the cache, records it beside the saved
    index (written last: an interrupted save leaves no usable cache entry)."""
    print(line)
    if cache:
        open(path + ".build", "w").write(line + "\n")
best = {}
peer_rows = []  # written to peers.json beside vx.json, for perf/plot.sh
vx = json.load(open(sys.argv[4]))["rows"]
for t in (1, 2):
    rows = [r for r in vx if r["threads"] == t and r["recall"] >= 0.95]
    best[("vx", t)] = (rows[0]["ef_search"], rows[0]["recall"], rows[0]["qps"]) if rows else None

import hnswlib
h = hnswlib.Index(space="cosine" if cosine else "l2", dim=xb.shape[1])
path, line = cached("hnswlib")
if line:
    h.load_index(path + ".bin", max_elements=len(xb)); print(line + " (built by an earlier run, loaded)")
else:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.time()
    h.init_index(max_elements=len(xb), M=16, ef_construction=int(sys.argv[7]), random_seed=1)
    h.add_items(xb, num_threads=2)
    line = f"hnswlib build: {time.time()-t0:.1f} s, peak RSS growth {(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss-rss0)/1024:.0f} MB"
    if cache: h.save_index(path + ".bin")
    built(path, line)
for t in (1, 2):
    for ef in efs:
        h.set_ef(ef); t0 = time.time(); I, _ = h.knn_query(xq, k=10, num_threads=t); dt = time.time() - t0
        r = recall(I); print(f"hnswlib threads {t} ef {ef:4d} recall {r:.4f} QPS {len(xq)/dt:8.0f}")
        peer_rows.append({"engine": "hnswlib", "threads": t, "ef_search": ef, "recall": r, "qps": len(xq) / dt})
        if r >= 0.95 and ("hnswlib", t) not in best: best[("hnswlib", t)] = (ef, r, len(xq) / dt)
del h

engines = ("vx", "hnswlib", "faiss") if sys.argv[6] == "1" else ("vx", "hnswlib")
if "faiss" in engines:
  import faiss
  path, line = cached("faiss")
  if line:
      f = faiss.read_index(path + ".index"); print(line + " (built by an earlier run, loaded)")
  else:
      # With the cache the build adds 1M vectors at a time and saves the
      # index and its progress after each chunk, so that a build longer than
      # a session resumes where it stopped (its 5M build takes 1-2 hours on
      # 2 cores). Save and load times are not counted as build time.
      rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
      faiss.omp_set_num_threads(2)
      f = faiss.IndexHNSWFlat(xb.shape[1], 16, faiss.METRIC_INNER_PRODUCT if cosine else faiss.METRIC_L2)
      done, spent, growth = 0, 0.0, 0.0
      chunk = int(os.environ.get("VX_FAISS_CHUNK", "1000000")) if cache else len(xb)
      progress = path + ".partial.json"  # [vectors added, seconds, MB]; names its index file
      if cache and os.path.exists(progress):
          done, spent, growth = json.load(open(progress))
          f = faiss.read_index(f"{path}.partial-{done}")
          assert f.ntotal == done, "faiss partial index and its progress file disagree"
          print(f"faiss: resuming at {done} of {len(xb)} after {spent:.0f} s", file=sys.stderr)
      f.hnsw.efConstruction = int(sys.argv[7])
      while done < len(xb):
          t0 = time.time(); f.add(xb[done:done + chunk]); spent += time.time() - t0
          before, done = done, f.ntotal
          growth = max(growth, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
          print(f"faiss: {done} of {len(xb)} added, {spent:.0f} s", file=sys.stderr, flush=True)
          if cache and done < len(xb):
              # The index first, then the progress file naming it (an atomic
              # rename), then the previous index: a kill anywhere leaves a
              # progress file and the index it names.
              faiss.write_index(f, f"{path}.partial-{done}")
              json.dump([done, spent, growth], open(progress + ".tmp", "w"))
              os.replace(progress + ".tmp", progress)
              if os.path.exists(f"{path}.partial-{before}"): os.remove(f"{path}.partial-{before}")
      chunks = f" (added in {-(-len(xb) // chunk)} chunks of {chunk})" if chunk < len(xb) else ""
      line = f"faiss build: {spent:.1f} s{chunks}, peak RSS growth {growth:.0f} MB"
      if cache:
          faiss.write_index(f, path + ".index")
          if os.path.exists(progress):
              os.remove(f"{path}.partial-{json.load(open(progress))[0]}"); os.remove(progress)
      built(path, line)
  for t in (1, 2):
      faiss.omp_set_num_threads(t)
      for ef in efs:
          f.hnsw.efSearch = ef; t0 = time.time(); _, I = f.search(xq, 10); dt = time.time() - t0
          r = recall(I); print(f"faiss   threads {t} ef {ef:4d} recall {r:.4f} QPS {len(xq)/dt:8.0f}")
          peer_rows.append({"engine": "faiss", "threads": t, "ef_search": ef, "recall": r, "qps": len(xq) / dt})
          if r >= 0.95 and ("faiss", t) not in best: best[("faiss", t)] = (ef, r, len(xq) / dt)
json.dump({"rows": peer_rows}, open(os.path.join(sys.argv[9], "peers.json"), "w"), indent=1)
print("\nQPS at the smallest ef_search with recall@10 >= 0.95:")
for t in (1, 2):
    for e in engines:
        b = best.get((e, t)); print(f"  {e:8} threads {t}: " + (f"ef {b[0]}, recall {b[1]:.4f}, QPS {b[2]:.0f}" if b else "not reached"))
PY
