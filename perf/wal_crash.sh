#!/usr/bin/env bash
# The WAL's crash trial at length: a child process appends from three
# threads and is killed with SIGKILL at a random point, TRIALS times (default
# 500); after each kill the reopened log must hold every acknowledged record
# and nothing torn. CI runs 10 of these (tests/wal_test.cc).
#   perf/wal_crash.sh [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-500}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_PERF=ON >/dev/null
cmake --build build -j"$(nproc)" --target vx_tests >/dev/null
start=$(date +%s)
VX_WAL_CRASH_TRIALS=$trials build/tests/vx_tests --gtest_filter='WalCrash.*' --gtest_brief=1
echo "wal crash: $trials SIGKILL trials passed in $(($(date +%s) - start)) s"
