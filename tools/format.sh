#!/usr/bin/env bash
# Formats the C and C++ sources with clang-format (.clang-format at the
# root), or with --check lists the files that differ and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.c' ':!tests/layering/*')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}" 2>/tmp/vx-format.$$ || {
    grep -o '^[^:]*:[0-9]*:[0-9]*: error' /tmp/vx-format.$$ | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
    rm -f /tmp/vx-format.$$
    echo "run tools/format.sh to format them"
    exit 1
  }
  rm -f /tmp/vx-format.$$
  echo "format: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
