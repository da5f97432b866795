#!/usr/bin/env bash
# Durable WAL appends by the number of appending threads (perf/bench_wal.cc:
# group commit) beside PostgreSQL's pg_test_fsync on the same disk, in one
# run: the disk's own rate of write + fdatasync bounds any durable commit.
#   perf/wal_bench.sh            env: VX_BENCH_DIR (default /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${VX_BENCH_DIR:-/var/tmp}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_PERF=ON >/dev/null
cmake --build build -j"$(nproc)" --target bench_wal >/dev/null
pg=$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | head -1 || true)
if [ -n "$pg" ]; then
  echo "== $pg (one 8 kB write + sync per op)"
  "$pg" -s 3 -f "$dir/vx_pg_test_fsync" | sed -n '/Compare file sync methods using one 8kB write/,/^$/p'
  rm -f "$dir/vx_pg_test_fsync"
else
  echo "== pg_test_fsync not installed (apt-get install postgresql-15): no disk baseline"
fi
echo "== vx WAL, 512-byte records, fdatasync before each acknowledgement"
VX_BENCH_DIR=$dir build/perf/bench_wal --benchmark_min_time=3
rm -f "$dir/vx_bench_wal"
