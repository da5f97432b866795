# Sourced by the benchmarks that run pgvector beside vx (delete_bench.sh,
# insert_bench.sh, filter_bench.sh) from the repository root, after `set
# -euo pipefail`, with $1 a name for the work directory: builds vxctl
# (Release, in VX_BUILD_DIR, default build), starts pgvector 0.8.6
# (../shared/tools/pgvector-peer) and sets
#   work    a fresh directory under VX_BENCH_DIR (default /var/tmp), removed
#           at exit with the vx_items table
#   vxctl   the built binary;  py  Debian's python3 (numpy);  peer  the tool
#   PYTHONPATH  perf/, for bench_data.py (the data helpers)
#   pg ARGS psql into the peer, stopping at the first error
peer=$(cd .. && pwd)/shared/tools/pgvector-peer
work=$(mktemp -d "${VX_BENCH_DIR:-/var/tmp}/vx-$1.XXXXXX")
trap 'rm -rf "$work"; "$peer" psql -q -c "DROP TABLE IF EXISTS vx_items" >/dev/null 2>&1 || true' EXIT
py=/usr/bin/python3
export PYTHONPATH=$PWD/perf
build=${VX_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target vxctl >/dev/null
vxctl=$build/tools/vxctl
"$peer" start >/dev/null
pg() { "$peer" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
