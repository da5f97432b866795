#!/usr/bin/env bash
# Installs everything vx needs to build, test and benchmark, from Debian
# packages only (run as root on Debian bookworm). Idempotent.
set -euo pipefail
packages=(
  cmake g++ make pkg-config bc ccache clang-format clang libclang-rt-dev
  liburing-dev libxxhash-dev libzstd-dev libopenblas-dev libroaring-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  python3-dev pybind11-dev python3-numpy python3-pytest librsvg2-bin python3-matplotlib
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
