#!/usr/bin/env bash
# `vxctl plan` beside the build it predicts: for each set, the plan (a
# calibration build of the base's first 20,000 rows), then the build itself
# with the same options, and the predicted figures beside the measured ones:
# build seconds, peak RSS, disk, structure and resident bytes.
#
#   perf/plan_vs_build.sh [TYPE:COUNTxDIM:METRIC ...]
#        (default hnsw:1000000x128:l2 ivf:1000000x128:l2 hnsw:200000x768:cosine)
#   env: VX_BENCH_DIR (default /var/tmp/vx-plan-bench), VX_BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${VX_BENCH_DIR:-/var/tmp/vx-plan-bench}
mkdir -p "$work"
vxctl=${VX_BUILD_DIR:-build}/tools/vxctl
sets=${*:-hnsw:1000000x128:l2 ivf:1000000x128:l2 hnsw:200000x768:cosine}
echo "== commit $(git rev-parse --short HEAD); $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
echo "| set | figure | plan | build | plan / build |"
echo "|---|---|---:|---:|---:|"
for spec in $sets; do
  IFS=: read -r type size metric <<<"$spec"
  n=${size%x*}; d=${size#*x}
  base=$work/base_${n}_${d}_${metric}.fbin
  [ -f "$base" ] || $vxctl gen --dim "$d" --count "$n" --seed 11 $([ "$metric" = cosine ] && echo --normalize) \
    --out "$base" >/dev/null 2>&1
  opts="--type $type --base $base --metric $metric"
  $vxctl plan $opts --scratch "$work" --json "$work/plan.json" >/dev/null 2>&1
  rm -rf "$work/idx"
  t0=$(date +%s.%N)
  $vxctl build $opts --out "$work/idx" >"$work/build.log" 2>&1
  t1=$(date +%s.%N)
  $vxctl info "$work/idx" --json >"$work/info.json"
  /usr/bin/python3 - "$work" "$spec" "$(echo "$t1 - $t0" | bc)" <<'EOF'
import json, os, re, sys
work, spec, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
p = json.load(open(f"{work}/plan.json")); i = json.load(open(f"{work}/info.json"))
peak = float(re.search(r"peak RSS (\d+) MB", open(f"{work}/build.log").read()).group(1)) * 2**20
disk = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(f"{work}/idx") for f in fs)
rows = [("build seconds", p["build_seconds"], seconds, "{:.1f}"),
        ("peak RSS, MB", p["build_peak_bytes"] / 1e6, peak / 1e6, "{:.0f}"),
        ("disk, MB", p["disk_bytes"] / 1e6, disk / 1e6, "{:.1f}"),
        ("structure, MB", p["structure_bytes"] / 1e6, i["structure_bytes"] / 1e6, "{:.1f}"),
        ("resident, MB", p["resident_bytes"] / 1e6, i["resident_bytes"] / 1e6, "{:.1f}")]
for name, a, b, f in rows:
    print(f"| {spec} | {name} | {f.format(a)} | {f.format(b)} | {a / b:.2f} |")
print(f"| {spec} | codes | {p['quant']} | {i['quant']} | |")
EOF
done
rm -rf "$work/idx"
