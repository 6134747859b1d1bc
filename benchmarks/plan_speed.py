"""Benchmark: how fast `lit plan` simulates, numpy engine against the request-by-request one.

    .venv/bin/python benchmarks/plan_speed.py [--rounds 3] [--rps 1000] [--hours 24]

A day at --rps requests per second (a steady rate and a diurnal one, both with a cold start at
the beginning and Lambda's 10-minute reclaim), figures shaped like a ResNet at 1,769 MB (warm
40-60 ms, cold starts 2-3 s). For each round: the numpy engine (as `lit plan` runs it, in one
process) over the whole day, and the pure-Python engine over the first hour; the ratio of their
requests simulated per second. Prints min-max over the rounds; writes benchmarks/results/plan_speed.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit import fastsim, simulate  # noqa: E402


def figures() -> simulate.Figures:
    rng = random.Random(1)
    warm = tuple(40 + 20 * rng.random() ** 3 for _ in range(200))
    cold = tuple(2000 + 1000 * rng.random() for _ in range(5))
    return simulate.Figures(1769, warm, 50.0, cold, tuple(c - 300 for c in cold))


def diurnal(rps: float, hours: float) -> simulate.Traffic:
    """Per minute: a trough of a fifth of the peak at 04:00, the peak at 16:00."""
    steps = []
    for minute in range(int(hours * 60)):
        phase = math.cos((minute / 60 - 16) / 24 * 2 * math.pi)
        steps.append((minute * 60.0, rps * (0.6 + 0.4 * phase)))
    return simulate.Traffic(tuple(steps), hours * 3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rps", type=float, default=1000.0)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    f = figures()
    limits = simulate.Limits()
    profiles = {
        "steady": simulate.Traffic(((0.0, args.rps),), args.hours * 3600),
        "diurnal": diurnal(args.rps, args.hours),
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in profiles}
    for r in range(args.rounds):
        for name, traffic in profiles.items():
            t0 = time.perf_counter()
            fast = fastsim.run(f, limits, traffic, seed=r)
            fast_s = time.perf_counter() - t0
            hour = simulate.Traffic(tuple(s for s in traffic.steps if s[0] < 3600), 3600.0)
            t0 = time.perf_counter()
            slow = simulate.run(f, limits, hour, seed=r)
            slow_s = time.perf_counter() - t0
            row = {
                "requests": fast.requests,
                "numpy_s": round(fast_s, 2),
                "numpy_rps": round(fast.requests / fast_s),
                "python_rps": round(slow.requests / slow_s),
                "speedup": round(fast.requests / fast_s / (slow.requests / slow_s), 2),
                "cold": fast.cold,
                "peak": fast.peak_concurrency,
            }
            rows[name].append(row)
            print(f"round {r + 1} {name}: {row}", flush=True)
    summary = {}
    for name, runs in rows.items():
        summary[name] = {k: (min(x[k] for x in runs), max(x[k] for x in runs)) for k in ("numpy_s", "speedup")}
        print(
            f"{name}: {runs[0]['requests']:,} requests in {summary[name]['numpy_s'][0]}-{summary[name]['numpy_s'][1]} s "
            f"(numpy engine); {summary[name]['speedup'][0]}-{summary[name]['speedup'][1]}x the pure-Python engine"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "plan_speed.json").write_text(json.dumps({"args": vars(args), "rounds": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
