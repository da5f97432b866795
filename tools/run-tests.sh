#!/usr/bin/env bash
# Checks the sources' format (clang-format), builds vx and runs the whole
# test suite twice, a release build then an ASan+UBSan build, the
# concurrency tests under TSan, and each libFuzzer target for a bounded time
# on its corpus (tools/fuzz.sh). Exits non-zero if anything fails. Build
# trees: build/, build-asan/, build-tsan/ and build-fuzz/ (reused when
# present).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# ccache (tools/install-deps.sh) keeps rebuilds of the three trees fast.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

echo "== format"
tools/format.sh --check

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVX_BUILD_PERF=ON "${launcher[@]}" >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

echo "== ASan+UBSan build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVX_SANITIZE=address -DVX_BUILD_PERF=OFF "${launcher[@]}" >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure

echo "== TSan build: concurrency tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DVX_SANITIZE=thread -DVX_BUILD_PERF=OFF "${launcher[@]}" >/dev/null
cmake --build build-tsan -j"$jobs" --target vx_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  build-tsan/tests/vx_tests --gtest_filter='*Concurrent*'

echo "== fuzzing: each target 20 s on its corpus"
tools/fuzz.sh 20
