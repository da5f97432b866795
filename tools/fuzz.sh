#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan+UBSan, in build-fuzz/)
# and runs each on its corpus in fuzz/corpus/TARGET for SECONDS (default
# 20: the bounded run the test command makes). Exits non-zero on the first
# target that finds a crash, a leak, undefined behaviour, a timeout or an
# out-of-memory; the input is left in build-fuzz/artifacts/ and the command
# that replays it is printed. A found input belongs in fuzz/corpus/TARGET/
# (as regress-WHAT) once fixed, so that every later run replays it.
#
#   tools/fuzz.sh                  # every target, 20 s each
#   tools/fuzz.sh 3600 index       # a long run of one target
#   VX_FUZZ_KEEP=1 tools/fuzz.sh 3600   # also keep the inputs that found new
#                                       # coverage, in build-fuzz/found/TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dataset manifest index)

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVX_FUZZ=ON \
  -DVX_BUILD_TESTS=OFF -DVX_BUILD_PERF=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  # New inputs go to a scratch directory (or the kept one), never into the
  # repository's corpus.
  found=build-fuzz/found/$t
  [ -n "${VX_FUZZ_KEEP:-}" ] || rm -rf "$found"
  mkdir -p "$found"
  echo "== fuzz_$t: ${seconds} s on fuzz/corpus/$t ($(ls fuzz/corpus/$t | wc -l) inputs)"
  if ! build-fuzz/fuzz/fuzz_$t -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 "$found" "fuzz/corpus/$t" \
      > "build-fuzz/fuzz_$t.log" 2>&1; then
    tail -n 60 "build-fuzz/fuzz_$t.log"
    echo "fuzz_$t found a failing input (above; log build-fuzz/fuzz_$t.log); replay it with:"
    echo "  build-fuzz/fuzz/fuzz_$t build-fuzz/artifacts/<file named above>"
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/fuzz_$t.log" | tr '\n' ' '
  echo
done
