#!/usr/bin/env bash
# Deletes, vx beside pgvector 0.8.6 (PostgreSQL 15) on the same generated
# set in one run: durable single-key deletes (one commit each: latency and
# rate; from one thread or client, then from four), then the rest of 20% of
# the rows deleted in one statement / one vxctl call,
# then what 200 queries return at ef_search 40 (rows per query, recall@10
# against exact search over the live rows), pgvector's VACUUM, and vx's
# vacuum (and, on a copy, its reindex) with the recall after.
#   perf/delete_bench.sh        env: N (rows, default 100000), DIM (128),
#                               VX_BENCH_DIR (default /var/tmp),
#                               VX_BUILD_DIR (default build)
# pgvector: ../shared/tools/pgvector-peer start (the script starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-100000}
dim=${DIM:-128}
nq=200
. perf/pg_peer.sh delete-bench

echo "== data: $n x $dim generated, $nq queries; commit $(git rev-parse --short HEAD)"
$vxctl gen --dim "$dim" --count "$n" --queries "$nq" --out "$work/base.fbin" --queries-out "$work/q.fbin" >/dev/null
$py - "$work" "$n" <<'EOF'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
from bench_data import read_fbin, write_tsv
base = read_fbin(f"{work}/base.fbin")
write_tsv(f"{work}/base.tsv", range(n), base)
rng = np.random.default_rng(1)
single = rng.choice(np.arange(1, n, 5), 2000, replace=False)  # keys = 1 mod 5, for the single deletes
np.save(f"{work}/single1.npy", single[:1000].astype(np.int64))  # from one thread
np.save(f"{work}/single4.npy", single[1000:].astype(np.int64))  # from four
bulk = np.setdiff1d(np.arange(1, n, 5), single)                # the rest of the 20%
np.save(f"{work}/bulk.npy", bulk.astype(np.int64))
EOF

# Exact top 10 over all rows and over the rows left after the deletes; the
# queries for pgvector at ef_search 40.
$py - "$work" "$n" <<'EOF'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
from bench_data import read_fbin, exact_top, write_pg_queries
base, q = read_fbin(f"{work}/base.fbin"), read_fbin(f"{work}/q.fbin")
for name, rows in (("all", np.arange(n)), ("live", np.arange(n)[np.arange(n) % 5 != 1])):
    np.save(f"{work}/gt_{name}.npy", exact_top(q, base[rows], rows))
write_pg_queries(f"{work}/pg_queries.sql", q)
EOF
echo "== build: vx hnsw (m 16, ef_construction 64) and pgvector hnsw (the same)"
t0=$(date +%s.%N)
$vxctl build --base "$work/base.fbin" --out "$work/idx" >/dev/null 2>&1
t1=$(date +%s.%N)
pg -c "DROP TABLE IF EXISTS vx_items" -c "CREATE TABLE vx_items (id bigint PRIMARY KEY, embedding vector($dim))"
pg -c "\\copy vx_items FROM '$work/base.tsv'"
pg -c "SET maintenance_work_mem = '2GB'" -c "CREATE INDEX ON vx_items USING hnsw (embedding vector_l2_ops)" \
  -c "VACUUM ANALYZE vx_items"
t2=$(date +%s.%N)
printf 'build seconds: vx %.1f, pgvector %.1f (table load, index, analyze)\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"

report() { # label, gt (all | live), vx RESULTS.npy JSON | pg PSQL_OUTPUT
  $py - "$work" "$@" <<'EOF'
import sys, re, json, numpy as np
work, label, which, kind, path = sys.argv[1:6]
gt = np.load(f"{work}/gt_{which}.npy")
if kind == "vx":
    got = [[k for k in row if k >= 0] for row in np.load(path)]
    j = json.load(open(sys.argv[6]))
    extra = f"  p50 {j['latency_us_p50'] / 1000:.2f} ms  SSD reads/query {j['ssd_reads_per_query']:.1f}"
else:
    text = open(path).read()  # psql -At: one line of keys a query (empty when none), then its time
    lines = text.splitlines()
    got = [[int(x) for x in lines[i - 1].split()] for i, l in enumerate(lines) if l.startswith("Time:")]
    ms = np.array([float(m) for m in re.findall(r"Time: ([0-9.]+) ms", text)])
    extra = f"  p50 {np.percentile(ms, 50):.2f} ms (psql's, round trip included)"
deleted = sum(k % 5 == 1 for r in got for k in r) if which == "live" else 0
hits = sum(len(set(r) & set(g)) for r, g in zip(got, gt))
rows = np.array([len(r) for r in got])
print(f"{label:28} rows/query {rows.mean():5.2f} (min {rows.min():2d})  recall@10 {hits / (10 * len(gt)):.3f}  "
      f"deleted returned {deleted}{extra}")
EOF
}
vx_query() { # label, gt[, index directory]
  $vxctl query "${3:-$work/idx}" --queries "$work/q.fbin" --ef-search 40 --threads 1 --out "$work/vx_res.npy" --json \
    >"$work/vx_res.json" 2>/dev/null
  report "$1" "$2" vx "$work/vx_res.npy" "$work/vx_res.json"
}
pg_query() { # label, gt; then the plan of the first query (an index scan, or not)
  pg -At -f "$work/pg_queries.sql" >"$work/pg_res.out"
  report "$1" "$2" pg "$work/pg_res.out"
  { echo "SET hnsw.ef_search = 40;"
    sed -n 3p "$work/pg_queries.sql" | sed "s/^SELECT string_agg(id::text, ' ') FROM (/EXPLAIN (COSTS OFF) /; s/) r;\$/;/"
  } | pg -At | grep -oE 'Index Scan using [a-z_0-9]+|Seq Scan on [a-z_]+' | head -1 | sed 's/^/    plan: /'
}
echo "== 200 queries before the deletes, k 10, ef_search 40, one at a time (recall against exact search)"
vx_query "vx" all
pg_query "pgvector" all

echo "== 1,000 single-key deletes, each durable before it returns (fsync per commit), from 1 and from 4 threads/clients"
for c in 1 4; do
  $vxctl delete "$work/idx" --ids "$work/single$c.npy" --batch 1 --threads $c --json >"$work/vx_single$c.json" 2>/dev/null
  $py - "$work/single$c.npy" "$c" "$work/pg_single$c" <<'EOF'
import sys, numpy as np
keys, clients, out = np.load(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for c in range(clients):  # one file a client, its share of the keys
    with open(f"{out}.{c}.sql", "w") as f:
        f.write("\\timing on\n")
        for k in keys[c::clients]:
            f.write(f"DELETE FROM vx_items WHERE id = {k};\n")
EOF
  t0=$(date +%s.%N)
  for ((i = 0; i < c; ++i)); do pg -f "$work/pg_single$c.$i.sql" >"$work/pg_single$c.$i.out" & done
  wait
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >"$work/pg_single$c.secs"
done
$py - "$work" <<'EOF'
import json, sys, re, glob, numpy as np
work = sys.argv[1]
print(f"{'':22} {'deletes/s':>10} {'p50 us':>8} {'p99 us':>8}")
for c in (1, 4):
    v = json.load(open(f"{work}/vx_single{c}.json"))
    ms = np.array([float(m) for p in glob.glob(f"{work}/pg_single{c}.*.out")
                   for m in re.findall(r"Time: ([0-9.]+) ms", open(p).read())])
    secs = float(open(f"{work}/pg_single{c}.secs").read())
    print(f"{f'vx, {c} thread(s)':22} {v['rows_per_s']:>10,.0f} {v['batch_latency_us_p50']:>8,.0f} {v['batch_latency_us_p99']:>8,.0f}")
    print(f"{f'pgvector, {c} client(s)':22} {len(ms) / secs:>10,.0f} {np.percentile(ms, 50) * 1000:>8,.0f} {np.percentile(ms, 99) * 1000:>8,.0f}"
          f"   ({len(ms)} statements; psql's times, round trip included; rate over the wall time)")
EOF

echo "== the rest of 20% of the rows deleted at once"
$vxctl delete "$work/idx" --ids "$work/bulk.npy" --json >"$work/vx_bulk.json" 2>/dev/null
pg -c "\\timing on" -c "DELETE FROM vx_items WHERE id % 5 = 1" >"$work/pg_bulk.out"
$py - "$work" <<'EOF'
import json, sys, re
work = sys.argv[1]
v = json.load(open(f"{work}/vx_bulk.json"))
ms = float(re.findall(r"Time: ([0-9.]+) ms", open(f"{work}/pg_bulk.out").read())[-1])
print(f"vx: {v['deleted_now']:,} keys in {v['seconds']:.3f} s; pgvector: DELETE ... WHERE id % 5 = 1 in {ms / 1000:.3f} s")
EOF

echo "== 200 queries after the deletes, k 10, ef_search 40 (recall against exact search over the live rows)"
vx_query "vx (tombstones)" live
pg_query "pgvector before VACUUM" live
t0=$(date +%s.%N)
pg -c "VACUUM vx_items"
t1=$(date +%s.%N)
printf 'pgvector VACUUM after the deletes: %.1f s\n' "$(echo "$t1 - $t0" | bc)"
pg_query "pgvector after VACUUM" live
t0=$(date +%s.%N)
$vxctl checkpoint "$work/idx" >/dev/null
t1=$(date +%s.%N)
printf 'vx checkpoint (the WAL folded into a tombstones segment): %.2f s\n' "$(echo "$t1 - $t0" | bc)"

echo "== reclaiming the deleted rows: vx vacuum (the graph repaired around them) and, on a copy, vx reindex"
cp -r "$work/idx" "$work/idx_reindex"
$vxctl vacuum "$work/idx" --json >"$work/vx_vacuum.json" 2>/dev/null
$vxctl reindex "$work/idx_reindex" --json >"$work/vx_reindex.json" 2>/dev/null
$py - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
for what in ("vacuum", "reindex"):
    j = json.load(open(f"{work}/vx_{what}.json"))
    print(f"vx {what}: {j['seconds']:.2f} s ({j['rows_reclaimed']:,} rows reclaimed, {j['live']:,} live)")
EOF
vx_query "vx after vacuum" live
vx_query "vx after reindex" live "$work/idx_reindex"
