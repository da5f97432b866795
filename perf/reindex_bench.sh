#!/usr/bin/env bash
# REINDEX CONCURRENTLY, vx beside pgvector 0.8.6 (PostgreSQL 15) on the same
# generated set in one run. Both indexes are built on N rows (HNSW, m 16,
# ef_construction 64); then one client inserts durable single rows and one
# searches (k 10, ef_search 40), first with nothing else running (T
# seconds), then while the index is rebuilt beside them: vx through an open
# writer (IndexWriter::Reindex on all cores, from the Python module),
# pgvector with REINDEX INDEX CONCURRENTLY (maintenance_work_mem 2GB, as for
# its build; its window: the length of a first, quiet REINDEX
# CONCURRENTLY). Reported per engine and phase: inserts/s and their
# p50/p99, searches/s and their p50/p99; the rebuild's time; recall@10 of
# the queries after it against exact search over every row then present.
#   perf/reindex_bench.sh        env: N (rows built, default 200000), DIM
#                                (128), T (seconds of the quiet phase, 10),
#                                VX_BENCH_DIR (default /var/tmp)
# pgvector: ../shared/tools/pgvector-peer start (the script starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-200000}
dim=${DIM:-128}
t=${T:-10}
nq=200
m=150000  # rows the inserts draw from (more than either engine inserts)
. perf/pg_peer.sh reindex-bench
cmake --build "$build" -j"$(nproc)" --target vx_python >/dev/null

echo "== data: $n x $dim generated, inserts from $m more, $nq queries; commit $(git rev-parse --short HEAD)"
$vxctl gen --dim "$dim" --count $((n + m)) --queries "$nq" --out "$work/all.fbin" --queries-out "$work/q.fbin" >/dev/null
$py - "$work" "$n" <<'EOF'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
from bench_data import read_fbin, write_fbin, write_tsv
rows, q = read_fbin(f"{work}/all.fbin"), read_fbin(f"{work}/q.fbin")
write_fbin(f"{work}/base.fbin", rows[:n])
write_tsv(f"{work}/base.tsv", range(n), rows[:n])
write_tsv(f"{work}/ins.tsv", range(len(rows) - n), rows[n:])
write_tsv(f"{work}/q.tsv", range(len(q)), q)
EOF
# Recall@10 of `got` (keys per query, .npy) against exact search over the
# built rows and the inserted keys in `inserted` (.npy).
recall() {
  $py - "$work" "$n" "$@" <<'EOF'
import sys, numpy as np
work, n, got, inserted = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
from bench_data import read_fbin, exact_top
rows, q = read_fbin(f"{work}/all.fbin"), read_fbin(f"{work}/q.fbin")
keys = np.concatenate([np.arange(n), np.load(inserted)])
gt = exact_top(q, rows[keys], keys)
got = np.load(got)
print(f"{np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, gt)]):.4f}")
EOF
}

echo "== vx"
$vxctl build --base "$work/base.fbin" --out "$work/idx" >/dev/null 2>&1
PYTHONPATH=$build/python:$PYTHONPATH $py - "$work" "$n" "$t" <<'EOF'
import sys, threading, time, numpy as np, vx
work, n, quiet = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
from bench_data import read_fbin
rows, q = read_fbin(f"{work}/all.fbin"), read_fbin(f"{work}/q.fbin")
w = vx.open_writer(f"{work}/idx", memory_mb=1024, auto_reindex_at=0)
next_key = [n]
def phase(name, until):
    ins, srch, stop = [], [], threading.Event()
    def inserter():
        while not stop.is_set():
            k = next_key[0]; next_key[0] += 1
            t0 = time.perf_counter(); w.insert(np.array([k]), rows[k][None, :]); ins.append(time.perf_counter() - t0)
    def searcher():
        i = 0
        while not stop.is_set():
            t0 = time.perf_counter(); w.search(q[i % len(q)][None, :], k=10, ef_search=40); srch.append(time.perf_counter() - t0)
            i += 1
    threads = [threading.Thread(target=inserter), threading.Thread(target=searcher)]
    start = time.perf_counter()
    for th in threads: th.start()
    took = until()
    stop.set()
    for th in threads: th.join()
    wall = time.perf_counter() - start
    pct = lambda a, p: np.percentile(np.array(a) * 1e3, p)
    print(f"vx {name}: {wall:.1f} s; inserts {len(ins) / wall:,.0f}/s, p50 {pct(ins, 50):.2f} ms, p99 {pct(ins, 99):.2f} ms; "
          f"searches {len(srch) / wall:,.0f}/s, p50 {pct(srch, 50):.2f} ms, p99 {pct(srch, 99):.2f} ms" + took)
phase("quiet", lambda: (time.sleep(quiet), "")[1])
def reindex():
    t0 = time.perf_counter(); w.reindex(); return f"; reindex {time.perf_counter() - t0:.1f} s"
phase("during reindex", reindex)
info = w.info
print(f"vx after: generation {info['generation']}, {info['inserted']} rows carried beside the index")
_, got = w.search(q, k=10, ef_search=40)
np.save(f"{work}/vx_got.npy", got)
np.save(f"{work}/vx_inserted.npy", np.arange(n, next_key[0]))
EOF
echo "vx recall@10 after: $(recall "$work/vx_got.npy" "$work/vx_inserted.npy")"

echo "== pgvector"
pg -c "DROP TABLE IF EXISTS vx_items, vx_ins, vx_q" \
  -c "CREATE TABLE vx_items (id bigint PRIMARY KEY, embedding vector($dim))" \
  -c "CREATE TABLE vx_ins (i int PRIMARY KEY, v vector($dim))" -c "CREATE TABLE vx_q (i int PRIMARY KEY, v vector($dim))" \
  -c "DROP SEQUENCE IF EXISTS vx_next" -c "CREATE SEQUENCE vx_next START $n"
pg -c "\\copy vx_items FROM '$work/base.tsv'" -c "\\copy vx_ins FROM '$work/ins.tsv'" -c "\\copy vx_q FROM '$work/q.tsv'"
pg -c "SET maintenance_work_mem = '2GB'" -c "CREATE INDEX vx_items_hnsw ON vx_items USING hnsw (embedding vector_l2_ops)" \
  -c "VACUUM ANALYZE vx_items"
cat > "$work/insert.sql" <<EOF
INSERT INTO vx_items SELECT k, (SELECT v FROM vx_ins WHERE i = k - $n) FROM (SELECT nextval('vx_next') AS k) s;
EOF
cat > "$work/search.sql" <<'EOF'
\set q random(0, 199)
SET hnsw.ef_search = 40;
SELECT id FROM vx_items ORDER BY embedding <-> (SELECT v FROM vx_q WHERE i = :q) LIMIT 10;
EOF
conn=$("$peer" start 2>/dev/null | tail -1)
pgphase() { # name, seconds
  rm -f "$work"/ins.log* "$work"/srch.log*
  (
    cd "$work"
    pgbench -n -c 1 -T "$2" -f insert.sql -l --log-prefix=ins.log "$conn" >ins.out 2>&1 &
    pgbench -n -c 1 -T "$2" -f search.sql -l --log-prefix=srch.log "$conn" >srch.out 2>&1 &
    wait
  ) || { cat "$work"/ins.out "$work"/srch.out >&2; exit 1; }
  $py - "$work" "$1" "$2" <<'EOF'
import sys, glob, numpy as np
work, name, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
def lat(prefix):
    a = np.array([int(l.split()[2]) for f in glob.glob(f"{work}/{prefix}.*") for l in open(f)]) / 1e3
    return len(a) / secs, np.percentile(a, 50), np.percentile(a, 99)
i, s = lat("ins.log"), lat("srch.log")
print(f"pgvector {name}: {secs:.1f} s; inserts {i[0]:,.0f}/s, p50 {i[1]:.2f} ms, p99 {i[2]:.2f} ms; "
      f"searches {s[0]:,.0f}/s, p50 {s[1]:.2f} ms, p99 {s[2]:.2f} ms")
EOF
}
pgphase quiet "$t"
t0=$(date +%s.%N)
pg -c "SET maintenance_work_mem = '2GB'" -c "REINDEX INDEX CONCURRENTLY vx_items_hnsw"
r=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'pgvector quiet REINDEX INDEX CONCURRENTLY: %.1f s\n' "$r"
window=$(printf '%.0f' "$r")
t0=$(date +%s.%N)
pg -c "SET maintenance_work_mem = '2GB'" -c "REINDEX INDEX CONCURRENTLY vx_items_hnsw" &
pgphase "during reindex" "$window"
wait
printf 'pgvector REINDEX INDEX CONCURRENTLY beside the clients: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
pg -At -c "SET hnsw.ef_search = 40" -c "SELECT (SELECT string_agg(id::text, ' ') FROM (SELECT id FROM vx_items ORDER BY embedding <-> q.v LIMIT 10) r) FROM vx_q q ORDER BY q.i" |
  grep -v '^SET' > "$work/pg_got.txt"
pg -At -c "SELECT id FROM vx_items WHERE id >= $n ORDER BY id" > "$work/pg_ins.txt"
$py -c "import numpy as np, sys; w=sys.argv[1]; np.save(w+'/pg_got.npy', np.array([[int(x) for x in l.split()] for l in open(w+'/pg_got.txt')])); np.save(w+'/pg_inserted.npy', np.loadtxt(w+'/pg_ins.txt', dtype=np.int64, ndmin=1))" "$work"
echo "pgvector recall@10 after: $(recall "$work/pg_got.npy" "$work/pg_inserted.npy")"
