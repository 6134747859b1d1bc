"""Benchmark: a batch of embeddings answered as .npy (base64, as a direct invoke carries it) against
the same answer as JSON, in process, with the runtime's own encoders.

    .venv/bin/python benchmarks/answers.py [--rows 64] [--dim 768] [--runs 7] [--n 200]

For each of --runs runs: the median over --n encodes of (a) lit_runtime.answers' .npy answer
(np.save + base64, as `"accept": "npy"` answers) and (b) the JSON answer (the embed task's tolist
plus json.dumps, as awslambdaric serialises a handler's answer). Prints min-max over the runs of
each and of their ratio, and the sizes; writes benchmarks/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))

import numpy as np  # noqa: E402
from lit_runtime import answers  # noqa: E402


def median_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    vectors = np.random.default_rng(0).standard_normal((args.rows, args.dim)).astype(np.float32)
    arrays = {"embeddings": vectors}

    def as_npy() -> str:
        data = answers.encode(arrays, "npy")
        return json.dumps(answers.direct(data, "npy", arrays))

    def as_json() -> str:
        return json.dumps({"predictions": vectors.tolist()})

    npy_ms, json_ms = [], []
    for _ in range(args.runs):
        npy_ms.append(median_ms(as_npy, args.n))
        json_ms.append(median_ms(as_json, max(10, args.n // 10)))
    ratios = [a / b for a, b in zip(npy_ms, json_ms)]
    report = {
        "shape": [args.rows, args.dim],
        "npy_ms": [round(v, 3) for v in npy_ms],
        "json_ms": [round(v, 3) for v in json_ms],
        "npy_over_json": [round(r, 4) for r in ratios],
        "npy_bytes": len(as_npy()),
        "json_bytes": len(as_json()),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "answers.json").write_text(json.dumps(report, indent=2))
    print(f"[{args.rows}, {args.dim}] float32 over {args.runs} runs:")
    print(f"  .npy answer (base64 in JSON): {min(npy_ms):.3f}-{max(npy_ms):.3f} ms, {report['npy_bytes']} bytes")
    print(f"  JSON answer:                  {min(json_ms):.3f}-{max(json_ms):.3f} ms, {report['json_bytes']} bytes")
    print(f"  ratio .npy / JSON:            {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main()
