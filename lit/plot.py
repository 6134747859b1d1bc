"""Draw a report as a PNG: `lit bench`'s warm latency and cost per million requests against memory,
or `lit plan`'s timeline (traffic, concurrency, cold starts and throttles).

Drawn in a child process (`python -m lit.plot REPORT.json|- OUT.png`, started by `render`) so that
the CLI itself never imports matplotlib or numpy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .errors import LitError


def render(report: dict[str, Any], path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lit.plot", "-", str(path)],
        input=json.dumps(report).encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        if "matplotlib" in err[0]:
            raise LitError("the plot needs matplotlib", "pip install 'lit-lambda[plot]', or leave out --plot")
        raise LitError(f"the plot failed: {err[0]}", "see the message above")


def draw(report: dict[str, Any], out: str) -> None:
    if report.get("kind") == "plan":
        return draw_plan(report, out)
    if report.get("kind") == "eval":
        return draw_eval(report, out)
    draw_bench(report, out)


def draw_eval(report: dict[str, Any], out: str) -> None:
    """`lit eval`: the confusion matrix of a classifier, else the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    candidate = report["candidate"]
    confusion = candidate["details"].get("confusion")
    fig, ax = plt.subplots(figsize=(7, 6) if confusion else (8, 4), dpi=120)
    if confusion:
        labels = sorted({*confusion, *(k for row in confusion.values() for k in row)}, key=lambda s: (len(s), s))
        cells = [[confusion.get(e, {}).get(a, 0) for a in labels] for e in labels]
        ax.imshow(cells, cmap="Blues")
        for i, row in enumerate(cells):
            for j, count in enumerate(row):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("answered")
        ax.set_ylabel("expected")
        ax.set_title(f"{candidate['target']}: accuracy {candidate['value']:.4f}")
    else:
        ax.hist(report["latencies_ms"], bins=40, color="tab:blue")
        ax.set_xlabel("latency per request (ms)")
        ax.set_ylabel("requests")
        ax.set_title(
            f"{candidate['target']}: p50 {candidate['latency_p50_ms']:.1f} ms, p99 {candidate['latency_p99_ms']:.1f} ms"
        )
    fig.tight_layout()
    fig.savefig(out)


def draw_plan(report: dict[str, Any], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    plan = next((s for s in sizes if s["memory"] == report.get("recommended")), sizes[0])
    buckets = plan["timeline"]
    width = (buckets[1]["start"] - buckets[0]["start"]) if len(buckets) > 1 else report["duration_s"]
    hours = report["duration_s"] >= 3 * 3600
    scale = 3600 if hours else 60
    t = [b["start"] / scale for b in buckets]
    fig, (traffic, envs) = plt.subplots(2, 1, figsize=(9, 6), dpi=120, sharex=True)
    traffic.plot(t, [b["requests"] / width for b in buckets], color="tab:blue", label="requests/s")
    traffic.plot(t, [b["throttled"] / width for b in buckets], color="tab:red", label="throttled/s")
    traffic.set_ylabel("per second")
    traffic.legend(fontsize=8, frameon=False)
    envs.plot(t, [b["peak"] for b in buckets], color="tab:green", label="peak concurrency")
    envs.plot(t, [b["busy_s"] / width for b in buckets], color="tab:olive", label="mean concurrency")
    cold = envs.twinx()
    cold.bar(t, [b["cold"] for b in buckets], width=width / scale, color="tab:orange", alpha=0.5, label="cold starts")
    cold.set_ylabel("cold starts per bucket", color="tab:orange")
    envs.set_ylabel("concurrent executions")
    envs.set_xlabel("hours" if hours else "minutes")
    envs.legend(loc="upper left", fontsize=8, frameon=False)
    fig.suptitle(
        f"lit plan {report['name']} at {plan['memory']} MB: {report['traffic']} (p99 {plan['p99_ms']:g} ms, "
        f"${plan['cost_total']:,.2f}/month)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out)


def draw_bench(report: dict[str, Any], out: str) -> None:
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
