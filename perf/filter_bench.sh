#!/usr/bin/env bash
# Filtered search, vx beside pgvector 0.8.6 (PostgreSQL 15) on the same
# generated multi-tenant set in one run. Each row has a tenant (1,000
# tenants of Zipf-distributed sizes), a timestamp (a permutation of the
# rows, so a window of them matches an exact share) and two tags. Each
# query class holds 100 queries with a filter each: a timestamp window
# matching 50%, 10%, 1%, 0.1% and 0.01% of the rows, and the query's own
# tenant (drawn by row, so large tenants are drawn more). Recall@10 against
# exact search over each query's matching rows; rows returned per query.
#
# vx: HNSW (m 16, ef_construction 64, auto codes), queried with --filters
# under a memory cap of a quarter of the index on disk (memcap counts the
# page cache), cold and after --prewarm.
# pgvector: the same HNSW index plus B-trees on the filtered columns (what a
# user adds), queried with hnsw.iterative_scan off, relaxed_order and
# strict_order (max_scan_tuples at its default 20,000), and with the
# filter-first CTE (the matching rows materialized, then sorted exactly).
#   perf/filter_bench.sh        env: N (rows, default 1000000), DIM (128),
#                               VX_BENCH_DIR (default /var/tmp),
#                               VX_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000000}
dim=${DIM:-128}
nq=100
. perf/pg_peer.sh filter-bench
memcap=$(cd .. && pwd)/shared/tools/memcap
classes="s50 s10 s1 s0.1 s0.01 tenant"

echo "== data: $n x $dim generated, $nq queries a class; commit $(git rev-parse --short HEAD)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
$vxctl gen --dim "$dim" --count "$n" --queries "$nq" --out "$work/base.fbin" --queries-out "$work/q.fbin" >/dev/null
mkdir "$work/attrs"
$py - "$work" "$n" "$nq" <<'EOF'
import sys, numpy as np
work, n, nq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from bench_data import read_fbin, literal
base, q = read_fbin(f"{work}/base.fbin"), read_fbin(f"{work}/q.fbin")
rng = np.random.default_rng(3)
w = 1.0 / np.arange(1, 1001) ** 1.1                       # Zipf tenant sizes
tenant = rng.choice(1000, n, p=w / w.sum()).astype(np.int64)
created = (1_600_000_000 + rng.permutation(n)).astype(np.int64)
tags = np.stack([rng.integers(0, 20, n), rng.integers(20, 100, n)], 1).astype(np.int64)
np.save(f"{work}/attrs/tenant_id.npy", tenant)
np.save(f"{work}/attrs/created_at.npy", created)
np.save(f"{work}/attrs/tags.offsets.npy", np.arange(0, 2 * n + 1, 2, dtype=np.int64))
np.save(f"{work}/attrs/tags.labels.npy", tags.reshape(-1))
with open(f"{work}/base.tsv", "w") as f:
    for i in range(n):
        f.write(f"{i}\t{literal(base[i])}\t{tenant[i]}\t{created[i]}\t{{{tags[i, 0]},{tags[i, 1]}}}\n")
qn = (q * q).sum(1)
bn = (base * base).sum(1)
for name in ["s50", "s10", "s1", "s0.1", "s0.01", "tenant"]:
    sql, vx, gt = [], [], np.full((nq, 10), -1, np.int64)
    for i in range(nq):
        if name == "tenant":
            t = tenant[rng.integers(n)]
            cond = f"tenant_id = {t}"
            rows = np.flatnonzero(tenant == t)
        else:
            m = max(1, round(n * float(name[1:]) / 100))
            lo = 1_600_000_000 + int(rng.integers(0, n - m + 1))
            cond = f"created_at BETWEEN {lo} AND {lo + m - 1}"
            rows = np.flatnonzero((created >= lo) & (created <= lo + m - 1))
        d = qn[i] - 2 * base[rows] @ q[i] + bn[rows]
        top = rows[np.argsort(d, kind="stable")[:10]]
        gt[i, :len(top)] = top
        vx.append(cond)
        sql.append((cond, literal(q[i])))
    np.save(f"{work}/gt_{name}.npy", gt)
    open(f"{work}/filters_{name}.txt", "w").write("\n".join(vx) + "\n")
    for mode in ["off", "relaxed_order", "strict_order", "cte"]:
        with open(f"{work}/pg_{name}_{mode}.sql", "w") as f:
            f.write("SET hnsw.ef_search = 40;\n")
            if mode != "cte":
                f.write(f"SET hnsw.iterative_scan = {mode};\n")
            f.write("\\timing on\n")
            for cond, v in sql:
                if mode == "cte":
                    f.write(f"WITH m AS MATERIALIZED (SELECT id, embedding FROM vx_items WHERE {cond}) "
                            f"SELECT string_agg(id::text, ' ') FROM (SELECT id FROM m ORDER BY embedding <-> '{v}' LIMIT 10) r;\n")
                else:
                    f.write(f"SELECT string_agg(id::text, ' ') FROM (SELECT id FROM vx_items WHERE {cond} "
                            f"ORDER BY embedding <-> '{v}' LIMIT 10) r;\n")
EOF

echo "== build: vx hnsw (m 16, ef_construction 64) and pgvector hnsw (the same) with B-trees on tenant_id and created_at"
t0=$(date +%s.%N)
$vxctl build --base "$work/base.fbin" --attrs "$work/attrs" --out "$work/idx" >/dev/null 2>&1
t1=$(date +%s.%N)
pg -c "DROP TABLE IF EXISTS vx_items" \
  -c "CREATE TABLE vx_items (id bigint PRIMARY KEY, embedding vector($dim), tenant_id int, created_at bigint, tags int[])"
pg -c "\\copy vx_items FROM '$work/base.tsv'"
pg -c "SET maintenance_work_mem = '2GB'" -c "CREATE INDEX ON vx_items USING hnsw (embedding vector_l2_ops)" \
  -c "CREATE INDEX ON vx_items (tenant_id)" -c "CREATE INDEX ON vx_items (created_at)" -c "VACUUM ANALYZE vx_items"
t2=$(date +%s.%N)
printf 'build seconds: vx %.1f, pgvector %.1f (table load, indexes, analyze)\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
$vxctl info "$work/idx" | grep -E "attributes|in RAM|on disk" || true
index_mb=$(($(du -b -c "$work"/idx/gen-*/* | tail -1 | cut -f1) / 1048576))
resident_mb=$(($($vxctl info "$work/idx" --json | $py -c 'import json,sys; print(json.load(sys.stdin)["resident_bytes"])') / 1048576))
cap_mb=$((index_mb / 4 > resident_mb + 120 ? index_mb / 4 : resident_mb + 120))
pool_mb=$((cap_mb - resident_mb - 100))
echo "vx index on disk $index_mb MiB; memcap $cap_mb MiB; resident (codes, keys, attributes) $resident_mb MiB; pool $pool_mb MiB"
$vxctl bench-io "$work/base.fbin" --qd 1,32 --seconds 2 2>/dev/null | tail -3 || true

report() { # class, label, vx RESULTS.npy JSON | pg PSQL_OUTPUT
  $py - "$work" "$@" <<'EOF'
import sys, re, json, numpy as np
work, cls, label, kind, path = sys.argv[1:6]
gt = np.load(f"{work}/gt_{cls}.npy")
if kind == "vx":
    got = [[k for k in row if k >= 0] for row in np.load(path)]
    j = json.load(open(sys.argv[6]))
    f = j["filter"]
    qps, extra = j["qps"], f"scans {f['scans']:3d} walks {f['walks']:3d}  p50 {j['latency_us_p50'] / 1000:6.2f} ms  reads/q {j['ssd_reads_per_query']:5.1f}"
else:
    text = open(path).read()  # psql -At: one line of keys a query (empty when none), then its time
    lines = text.splitlines()
    got = [[int(x) for x in lines[i - 1].split()] for i, l in enumerate(lines) if l.startswith("Time:")]
    ms = np.array([float(m) for m in re.findall(r"Time: ([0-9.]+) ms", text)])
    qps, extra = 1000 / ms.mean(), f"p50 {np.percentile(ms, 50):6.2f} ms (psql's, round trip included)"
want = np.array([(g >= 0).sum() for g in gt])
hits = sum(len(set(r) & set(g[g >= 0])) for r, g in zip(got, gt))
rows = np.array([len(r) for r in got])
short = int((rows < want).sum())
print(f"{cls:7} {label:24} recall@10 {hits / want.sum():.3f}  rows/q {rows.mean():5.2f} (short {short:3d})  "
      f"QPS {qps:8.1f}  {extra}")
EOF
}
echo "== $nq queries a class, k 10, one at a time"
for cls in $classes; do
  for ef in 40 80; do
    for prewarm in "" --prewarm; do
      $memcap "$cap_mb" $vxctl query "$work/idx" --queries "$work/q.fbin" --filters "$work/filters_$cls.txt" \
        --ef-search $ef --threads 1 --memory "$pool_mb" $prewarm --out "$work/vx_res.npy" --json >"$work/vx_res.json" 2>/dev/null
      report "$cls" "vx ef $ef${prewarm:+ prewarmed}" vx "$work/vx_res.npy" "$work/vx_res.json"
    done
  done
  for mode in off relaxed_order strict_order cte; do
    pg -At -f "$work/pg_${cls}_$mode.sql" >"$work/pg_res.out"
    report "$cls" "pgvector $mode" pg "$work/pg_res.out"
  done
  # The plan pgvector's planner picked for the first query (relaxed_order).
  { sed -n 1,2p "$work/pg_${cls}_relaxed_order.sql"
    sed -n 4p "$work/pg_${cls}_relaxed_order.sql" | sed "s/^SELECT string_agg(id::text, ' ') FROM (/EXPLAIN (COSTS OFF) /; s/) r;\$/;/"
  } | pg -At | grep -oE 'Index Scan using [a-z_0-9]+|Bitmap Heap Scan on [a-z_]+|Seq Scan on [a-z_]+' | head -1 |
    sed "s/^/$cls    pgvector plan (relaxed_order): /"
done
