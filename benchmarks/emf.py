"""Benchmark: what the runtime's per-request log line costs, built and written to a pipe, as an EMF
record (today's) against the plain JSON line it replaced (timings nested under "ms", no metrics).

    .venv/bin/python benchmarks/emf.py [--rounds 15] [--lines 5000]

Interleaved rounds in one process; prints min-median-max of the per-line cost of each and of their
ratio (target: the EMF line no slower, ratio <= 1.0 within noise; a line is a few microseconds
either way, against a request of about a millisecond), and writes benchmarks/results/emf.json.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))

from lit_runtime import metrics  # noqa: E402

TIMINGS = {"decode": 0.021, "preprocess": 0.013, "inference": 0.054, "postprocess": 0.011}
REQUEST_ID = "8f5c2a9e-3d1b-4c7a-9e2f-1a2b3c4d5e6f"


def old_log(out: io.TextIOWrapper) -> None:
    """The line before EMF (runtime/lit_runtime/app.py's _log until this change)."""
    line = {
        "event": "request",
        "request_id": REQUEST_ID,
        "trigger": "direct",
        "batch_size": 1,
        "status": 200,
        "ms": TIMINGS,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out.write(json.dumps(line) + "\n")
    out.flush()


def emf_log(out: io.TextIOWrapper) -> None:
    """Today's line, as App._log writes it."""
    rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out.write(metrics.request_line("digits", REQUEST_ID, "direct", 200, 1, TIMINGS, rss, None) + "\n")
    out.flush()


def per_line_us(write, out: io.TextIOWrapper, lines: int) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    for _ in range(lines):
        write(out)
    return (time.perf_counter() - t0) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    # a pipe drained by another process, as the RIE drains the runtime's stdout
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert drain.stdin is not None
    out = io.TextIOWrapper(drain.stdin, write_through=False)
    old, emf = [], []
    for _ in range(args.rounds):
        old.append(per_line_us(old_log, out, args.lines))
        emf.append(per_line_us(emf_log, out, args.lines))
    out.close()
    drain.wait()
    ratios = [e / o for e, o in zip(emf, old, strict=True)]

    def spread(xs: list[float]) -> str:
        return f"{min(xs):.2f}-{statistics.median(xs):.2f}-{max(xs):.2f}"

    print(f"plain JSON line: {spread(old)} us (min-median-max over {args.rounds} rounds)")
    print(f"EMF line:        {spread(emf)} us")
    print(f"EMF / plain:     {spread(ratios)}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "emf.json").write_text(json.dumps({"plain_us": old, "emf_us": emf, "ratio": ratios}, indent=1))


if __name__ == "__main__":
    main()
