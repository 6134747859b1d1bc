"""Draw a `lit bench` report as a PNG: warm latency and cost per million requests against memory.

Run as a child process (`python -m lit.plot REPORT.json|- OUT.png`) so that the CLI itself never
imports matplotlib or numpy.
"""

from __future__ import annotations

import json
import sys


def draw(report: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in report["results"] if not r["error"]]
    memory = [r["memory"] for r in ok]
    fig, latency = plt.subplots(figsize=(8, 4.5), dpi=120)
    latency.plot(memory, [r["warm_p50_ms"] for r in ok], "o-", color="tab:blue", label="warm p50")
    latency.plot(memory, [r["warm_p99_ms"] for r in ok], "s--", color="tab:blue", alpha=0.6, label="warm p99")
    if report.get("bound_ms"):
        latency.axhline(report["bound_ms"], color="tab:blue", linestyle=":", linewidth=1, label="p99 bound")
    latency.set_xlabel("memory (MB)")
    latency.set_ylabel("latency (ms)", color="tab:blue")
    latency.set_xticks(memory)
    cost = latency.twinx()
    cost.plot(memory, [r["cost_per_million"] for r in ok], "^-", color="tab:orange", label="$ per 1M requests")
    cost.set_ylabel("USD per million requests", color="tab:orange")
    if report.get("recommended"):
        latency.axvline(report["recommended"], color="tab:green", linewidth=6, alpha=0.2, label="recommended")
    handles = latency.get_legend_handles_labels()[0] + cost.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"{report['image']} ({report['architecture']}): warm latency and cost by memory size", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(out)


if __name__ == "__main__":
    source = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1]).read()
    draw(json.loads(source), sys.argv[2])
