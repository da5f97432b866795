#!/usr/bin/env bash
# Inserts, vx beside pgvector 0.8.6 (PostgreSQL 15) on the same generated
# set in one run: both indexes built on N rows, then durable single-row
# inserts (one commit each: latency and rate; from one thread or client,
# then from four), then the rest of M rows inserted in one vxctl call / one
# COPY, then 200 queries at ef_search 40 before and after the inserts
# (recall@10 against exact search over the rows there are, p50 latency),
# and again after both indexes are rebuilt (vxctl reindex, REINDEX INDEX).
#   perf/insert_bench.sh        env: N (rows built, default 100000), M (rows
#                               inserted, default 20000), DIM (128),
#                               VX_BENCH_DIR (default /var/tmp),
#                               VX_BUILD_DIR (default build)
# pgvector: ../shared/tools/pgvector-peer start (the script starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-100000}
m=${M:-20000}
dim=${DIM:-128}
nq=200
. perf/pg_peer.sh insert-bench

echo "== data: $n x $dim generated, then $m more of the same distribution inserted, $nq queries; commit $(git rev-parse --short HEAD)"
$vxctl gen --dim "$dim" --count $((n + m)) --queries "$nq" --out "$work/all.fbin" --queries-out "$work/q.fbin" >/dev/null
$py - "$work" "$n" <<'EOF'
import sys, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
from bench_data import read_fbin, write_fbin, write_tsv, exact_top, write_pg_queries, literal
rows, q = read_fbin(f"{work}/all.fbin"), read_fbin(f"{work}/q.fbin")
total = len(rows)
rng = np.random.default_rng(1)
order = n + rng.permutation(total - n)       # the inserted rows' keys (= their rows)
parts = {"single1": order[:1000], "single4": order[1000:2000], "bulk": order[2000:]}
write_fbin(f"{work}/base.fbin", rows[:n])
for name, keys in parts.items():
    write_fbin(f"{work}/{name}.fbin", rows[keys])
    np.save(f"{work}/{name}.npy", keys.astype(np.int64))
    write_tsv(f"{work}/{name}.tsv", keys, rows[keys])
write_tsv(f"{work}/base.tsv", range(n), rows[:n])
for name, upto in (("before", n), ("after", total)):
    np.save(f"{work}/gt_{name}.npy", exact_top(q, rows[:upto], np.arange(upto)))
write_pg_queries(f"{work}/pg_queries.sql", q)
for c in (1, 4):  # the single inserts, one file a client
    keys = np.load(f"{work}/single{c}.npy")
    for i in range(c):
        with open(f"{work}/pg_single{c}.{i}.sql", "w") as f:
            f.write("\\timing on\n")
            for k in keys[i::c]:
                f.write(f"INSERT INTO vx_items VALUES ({k}, '{literal(rows[k])}');\n")
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

report() { # label, gt (before | after), vx RESULTS.npy JSON | pg PSQL_OUTPUT
  $py - "$work" "$@" <<'EOF'
import sys, re, json, numpy as np
work, label, which, kind, path = sys.argv[1:6]
gt = np.load(f"{work}/gt_{which}.npy")
if kind == "vx":
    got = [[k for k in row if k >= 0] for row in np.load(path)]
    j = json.load(open(sys.argv[6]))
    extra = f"  p50 {j['latency_us_p50'] / 1000:.2f} ms"
else:
    text = open(path).read()  # psql -At: one line of keys a query, then its time
    lines = text.splitlines()
    got = [[int(x) for x in lines[i - 1].split()] for i, l in enumerate(lines) if l.startswith("Time:")]
    ms = np.array([float(m) for m in re.findall(r"Time: ([0-9.]+) ms", text)])
    extra = f"  p50 {np.percentile(ms, 50):.2f} ms (psql's, round trip included)"
hits = sum(len(set(r) & set(g)) for r, g in zip(got, gt))
rows = np.array([len(r) for r in got])
print(f"{label:26} rows/query {rows.mean():5.2f}  recall@10 {hits / (10 * len(gt)):.3f}{extra}")
EOF
}
queries() { # label suffix, gt
  $vxctl query "$work/idx" --queries "$work/q.fbin" --ef-search 40 --threads 1 --out "$work/vx_res.npy" --json \
    >"$work/vx_res.json" 2>/dev/null
  report "vx $1" "$2" vx "$work/vx_res.npy" "$work/vx_res.json"
  pg -At -f "$work/pg_queries.sql" >"$work/pg_res.out"
  report "pgvector $1" "$2" pg "$work/pg_res.out"
}
echo "== 200 queries before the inserts, k 10, ef_search 40, one at a time"
queries "" before

echo "== 1,000 single-row inserts, each durable before it returns (fsync per commit), from 1 and from 4 threads/clients"
for c in 1 4; do
  $vxctl insert "$work/idx" --vectors "$work/single$c.fbin" --ids "$work/single$c.npy" --batch 1 --threads $c --json \
    >"$work/vx_single$c.json" 2>/dev/null
  t0=$(date +%s.%N)
  for ((i = 0; i < c; ++i)); do pg -f "$work/pg_single$c.$i.sql" >"$work/pg_single$c.$i.out" & done
  wait
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >"$work/pg_single$c.secs"
done
$py - "$work" <<'EOF'
import json, sys, re, glob, numpy as np
work = sys.argv[1]
print(f"{'':22} {'inserts/s':>10} {'p50 us':>8} {'p99 us':>8}")
for c in (1, 4):
    v = json.load(open(f"{work}/vx_single{c}.json"))
    ms = np.array([float(m) for p in glob.glob(f"{work}/pg_single{c}.*.out")
                   for m in re.findall(r"Time: ([0-9.]+) ms", open(p).read())])
    secs = float(open(f"{work}/pg_single{c}.secs").read())
    print(f"{f'vx, {c} thread(s)':22} {v['rows_per_s']:>10,.0f} {v['batch_latency_us_p50']:>8,.0f} {v['batch_latency_us_p99']:>8,.0f}")
    print(f"{f'pgvector, {c} client(s)':22} {len(ms) / secs:>10,.0f} {np.percentile(ms, 50) * 1000:>8,.0f} {np.percentile(ms, 99) * 1000:>8,.0f}"
          f"   ({len(ms)} statements; psql's times, round trip included; rate over the wall time)")
EOF

echo "== the rest of the $m rows inserted at once (vx: one call, batches of 10,000; pgvector: one COPY into the indexed table)"
$vxctl insert "$work/idx" --vectors "$work/bulk.fbin" --ids "$work/bulk.npy" --json >"$work/vx_bulk.json" 2>/dev/null
pg -c "\\timing on" -c "\\copy vx_items FROM '$work/bulk.tsv'" >"$work/pg_bulk.out"
$py - "$work" <<'EOF'
import json, sys, re
work = sys.argv[1]
v = json.load(open(f"{work}/vx_bulk.json"))
ms = float(re.findall(r"Time: ([0-9.]+) ms", open(f"{work}/pg_bulk.out").read())[-1])
print(f"vx: {v['inserted_now']:,} rows in {v['seconds']:.2f} s ({v['rows_per_s']:,.0f}/s); "
      f"pgvector: COPY in {ms / 1000:.2f} s ({v['inserted_now'] / (ms / 1000):,.0f}/s)")
print(f"vx: the inserted rows hold {v['write_bytes'] / 1e6:.1f} MB of RAM")
EOF

echo "== 200 queries after the inserts (recall against exact search over built and inserted rows)"
queries "" after
t0=$(date +%s.%N)
$vxctl checkpoint "$work/idx" >/dev/null
t1=$(date +%s.%N)
printf 'vx checkpoint after the inserts: %.2f s\n' "$(echo "$t1 - $t0" | bc)"

echo "== rebuilt with the inserted rows: vxctl reindex and pgvector's REINDEX INDEX"
t0=$(date +%s.%N)
$vxctl reindex "$work/idx" >/dev/null 2>&1
t1=$(date +%s.%N)
pg -c "SET maintenance_work_mem = '2GB'" -c "REINDEX INDEX vx_items_embedding_idx"
t2=$(date +%s.%N)
printf 'reindex seconds: vx %.1f, pgvector %.1f\n' "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
queries "(reindexed)" after
