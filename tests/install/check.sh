#!/usr/bin/env bash
# Installs the vx build tree $1 into a fresh prefix, then builds and runs the
# consumers against it: through find_package(vx CONFIG) (shared and static)
# and through pkg-config (shared, and static with Libs.private). Also checks
# that libvx.so has its versioned SONAME and exports the public API only.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name libvx.so | head -1)")
test -f "$prefix/include/vx/vx.h" && test -f "$prefix/include/vx/index.h"
test -x "$prefix/bin/vxctl"
test -f "$libdir/libvx.a"

soname=$(objdump -p "$libdir/libvx.so" | awk '/SONAME/ {print $2}')
[[ $soname =~ ^libvx\.so\.[0-9]+\.[0-9]+$ ]] || { echo "SONAME is '$soname'"; exit 1; }
# Every exported symbol is the C API (vx_*) or in namespace vx.
extra=$(nm -D --defined-only -C "$libdir/libvx.so" | cut -d' ' -f3- |
        grep -Ev '^(vx_[a-z_]+|vx::.*|typeinfo (name )?for vx::.*|VX_[0-9_]+)(@@VX_[0-9_]+)?$' || true)
[ -z "$extra" ] || { echo "libvx.so exports more than the public API:"; echo "$extra" | head -20; exit 1; }
for internal in BufferPool HnswIndex Manifest PageWriter Quantizer; do
  if nm -D --defined-only -C "$libdir/libvx.so" | grep -q "vx::.*$internal"; then
    echo "libvx.so exports the internal $internal"; exit 1
  fi
done

echo "== find_package(vx CONFIG)"
cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" -j2 >/dev/null
"$work/cmake/c_shared" "$work/i1"
"$work/cmake/cxx_shared" "$work/i2"
"$work/cmake/cxx_static" "$work/i3"
! ldd "$work/cmake/cxx_static" | grep -q libvx || { echo "cxx_static links libvx.so"; exit 1; }

echo "== pkg-config vx"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "vxctl $(pkg-config --modversion vx)" = "$("$prefix/bin/vxctl" --version)" ] ||
  { echo "vx.pc's version is not vxctl's"; exit 1; }
cc -std=c11 -Wall -Werror "$here/consumer.c" $(pkg-config --cflags --libs vx) -o "$work/c_pc"
c++ -std=c++20 -Wall -Werror "$here/consumer.cc" $(pkg-config --cflags --libs vx) -o "$work/cxx_pc"
LD_LIBRARY_PATH=$libdir "$work/c_pc" "$work/i4"
LD_LIBRARY_PATH=$libdir "$work/cxx_pc" "$work/i5"
# Static: libvx.a and exactly what Libs.private lists.
cc -std=c11 "$here/consumer.c" $(pkg-config --cflags vx) "$libdir/libvx.a" \
  $(pkg-config --static --libs vx | sed 's/-lvx\b//') -o "$work/c_pc_static"
"$work/c_pc_static" "$work/i6"

echo "== the Python module, from the prefix"
module=$(find "$prefix" -name '_vx*.so' | head -1)
if [ -n "$module" ]; then
  PYTHONPATH=$(dirname "$(dirname "$module")") /usr/bin/python3 -c "
import sys, numpy as np, vx
assert vx.__file__.startswith('$prefix'), vx.__file__
rows = np.arange(800, dtype=np.float32).reshape(100, 8)
vx.build('$work/i7', rows, quant='sq8')
D, I = vx.open('$work/i7').search(rows[42])
assert I[0, 0] == 42 and D[0, 0] == 0, (D, I)
print('python: vx', vx.__version__, 'ok')"
elif grep -q '^VX_PYTHON:INTERNAL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "the build has the Python module but the prefix does not"; exit 1
fi
echo "install: all checks passed"
