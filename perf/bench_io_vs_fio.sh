#!/usr/bin/env bash
# vx's reader (vxctl bench-io) against fio on the same file in the same run:
# 4 KiB O_DIRECT random reads through io_uring at each queue depth, fio and
# vx alternating so that both see the same device state. Then the buffer
# pool with a budget far below the file size.
#
#   perf/bench_io_vs_fio.sh [FILE] [SIZE_MB] [SECONDS] [QDS]
#       defaults: /tmp/vx-bench-io.dat 4096 10 "1 32"
# Needs: build/tools/vxctl, fio, python3 (Debian's /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-/tmp/vx-bench-io.dat}; size_mb=${2:-4096}; secs=${3:-10}; qds=${4:-"1 32"}
vxctl=build/tools/vxctl
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((size_mb * 1024 * 1024)) ]; then
  $vxctl bench-io "$file" --create-mb "$size_mb" --qd 1 --seconds 0.1 >/dev/null
fi
echo "file: $file ($size_mb MiB), 4 KiB random reads, O_DIRECT, io_uring, $secs s per run"
printf "%-4s %12s %12s %8s %10s %10s %10s %10s\n" qd fio_IOPS vx_IOPS vx/fio fio_p50us vx_p50us fio_p99us vx_p99us
for qd in $qds; do
  fio_json=$(fio --name=r --filename="$file" --ioengine=io_uring --direct=1 --rw=randread --bs=4k \
    --iodepth="$qd" --runtime="$secs" --time_based --norandommap --output-format=json 2>/dev/null)
  vx_json=$($vxctl bench-io "$file" --qd "$qd" --seconds "$secs" --json)
  /usr/bin/python3 - "$qd" "$fio_json" "$vx_json" <<'PY'
import json, sys
qd, f, v = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
r = f["jobs"][0]["read"]; p = r["clat_ns"]["percentile"]
fi, vr = r["iops"], v["runs"][0]
print(f'{qd:<4} {fi:12.0f} {vr["ops_per_s"]:12.0f} {vr["ops_per_s"]/fi:8.2f} {p["50.000000"]/1e3:10.1f} {vr["p50_us"]:10.1f} {p["99.000000"]/1e3:10.1f} {vr["p99_us"]:10.1f}')
PY
done
echo
echo "buffer pool, budget 256 MiB (~1/16 of the file):"
$vxctl bench-io "$file" --qd "$(echo $qds | tr ' ' ',')" --seconds "$secs" --memory 256 | grep -E '^(mode|pool)'
