#!/usr/bin/env bash
# Draws vx beside its peers from the benchmark JSON: recall@10 (x) against
# QPS (log y), one colour per engine, solid for 1 thread and dashed for 2,
# each point labelled with its ef_search (or probes), the target recall
# dashed, to a PNG (matplotlib, Debian's python3-matplotlib).
#
#   perf/plot.sh VX_JSON [PEERS_JSON] OUT.png [TITLE]
# VX_JSON: `vxctl bench --json FILE`; PEERS_JSON: the peers.json that
# perf/hnsw_vs_peers.sh writes beside vx.json in its VX_BENCH_DIR.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 VX_JSON [PEERS_JSON] OUT.png [TITLE]" >&2; exit 2; }
vx_json=$1; shift
peers=""
if [ $# -ge 2 ] && [[ $1 == *.json ]]; then peers=$1; shift; fi
out=$1; title=${2:-}
/usr/bin/python3 - "$vx_json" "$peers" "$out" "$title" <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
vx_doc = json.load(open(sys.argv[1]))
knob = "probes" if any("probes" in r for r in vx_doc["rows"]) else "ef_search"
series = {}
for r in vx_doc["rows"]:
    series.setdefault(("vx", r["threads"]), []).append((r["recall"], r["qps"], r[knob]))
if sys.argv[2]:
    for r in json.load(open(sys.argv[2]))["rows"]:
        series.setdefault((r["engine"], r["threads"]), []).append((r["recall"], r["qps"], r["ef_search"]))
engines = sorted({e for e, _ in series}, key=lambda e: (e != "vx", e))
colours = dict(zip(engines, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
fig, ax = plt.subplots(figsize=(9, 6))
for (engine, threads), pts in sorted(series.items(), key=lambda kv: (engines.index(kv[0][0]), kv[0][1])):
    pts.sort()
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colours[engine],
            linestyle="-" if threads == 1 else "--", label=f"{engine}, {threads} thread{'s' if threads > 1 else ''}")
    for rec, qps, v in pts:
        ax.annotate(str(v), (rec, qps), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colours[engine])
ax.axvline(0.95, color="grey", linestyle=":", label="recall 0.95")
ax.set_yscale("log")
plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
ax.yaxis.set_major_formatter(plain)
ax.yaxis.set_minor_formatter(plain)
ax.set_xlabel(f"recall@{vx_doc.get('k', 10)}")
ax.set_ylabel("queries per second (log)")
ax.grid(True, which="both", alpha=0.3)
ax.set_title(sys.argv[4] or f"{vx_doc['index']}, memory {vx_doc.get('memory_mb')} MB (labels: {knob})")
ax.legend()
fig.tight_layout()
fig.savefig(sys.argv[3], dpi=110)
print(f"wrote {sys.argv[3]}")
PY
