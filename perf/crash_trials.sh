#!/usr/bin/env bash
# The SIGKILL crash trials at length, TRIALS kills each (default 500):
#   wal     a child appends to the WAL from three threads; the reopened log
#           must hold every acknowledged record and nothing torn
#           (tests/wal_test.cc, WalCrash);
#   writer  a child inserts, upserts and deletes batches of keys through
#           IndexWriter, a checkpoint every seventh; then again with
#           reindexes running (automatic ones in the background from the
#           first batch, and one every fifth batch); the reopened index must
#           hold every acknowledged batch, the one in flight whole or not at
#           all, and nothing after it (tests/writer_test.cc, WriterCrash).
# CI runs 10 of each.
#   perf/crash_trials.sh wal|writer [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:?usage: perf/crash_trials.sh wal|writer [TRIALS]}
trials=${2:-500}
case $which in
  wal) filter='WalCrash.*' var=VX_WAL_CRASH_TRIALS ;;
  writer) filter='WriterCrash.*' var=VX_WRITER_CRASH_TRIALS ;;
  *) echo "perf/crash_trials.sh: unknown trial '$which' (wal or writer)" >&2; exit 2 ;;
esac
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_PERF=ON >/dev/null
cmake --build build -j"$(nproc)" --target vx_tests >/dev/null
start=$(date +%s)
env "$var=$trials" build/tests/vx_tests --gtest_filter="$filter" --gtest_brief=1
echo "$which crash: $trials SIGKILL trials passed in $(($(date +%s) - start)) s"
