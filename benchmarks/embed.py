"""Benchmark: `lit bench` on the embedding example (images/text-embed) against its floor, in one run.

    .venv/bin/python benchmarks/embed.py [--runs 3] [--warm 200] [--memory 1024] [--texts 1]

The floor of a warm invoke is the RIE round trip of an echo handler (benchmarks/echo, on the same OS
layer) plus the model's in-process forward pass inside the function image at the same CPU share
(benchmarks/inprocess.py). For each of --runs runs: `lit bench` at --memory (its warm p50), the echo
image's warm p50 and the in-process forward p50; the ratio bench / (echo + forward) is reported as
min-max over the runs. Writes benchmarks/results/embed.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from spine import build_peer, in_process, measure  # noqa: E402

from lit import base, build, project  # noqa: E402
from lit.docker import Docker  # noqa: E402

EXAMPLE = ROOT / "images" / "text-embed"
EXPORT_PYTHON = ROOT / ".venv-export" / "bin" / "python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--texts", type=int, default=1, help="texts per request")
    parser.add_argument("--os-image", default=base.BOOTSTRAP_TAG, help="OS layer the echo floor is built on")
    args = parser.parse_args()
    docker = Docker()
    docker.ping()
    if not (EXAMPLE / "heldout.json").is_file():
        subprocess.run([str(EXPORT_PYTHON), str(EXAMPLE / "train.py")], check=True)
    texts = json.loads((EXAMPLE / "heldout.json").read_text())["texts"][: args.texts]
    body = json.dumps({"texts": texts}).encode()
    proj = project.load(EXAMPLE)
    image = build.build(docker, proj, "lit-bench-embed:latest", log=lambda _: None).image
    echo = build_peer(docker, "echo", args.os_image, False)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        event = Path(tmp) / "event.json"
        event.write_bytes(body)
        for _ in range(args.runs):
            cmd = [sys.executable, "-m", "lit", "bench", str(EXAMPLE), "--image", image, "--memory", str(args.memory)]
            cmd += ["--event", str(event), "--warm", str(args.warm), "--cold", "1", "--json"]
            report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            bench_p50 = report["results"][0]["warm_p50_ms"]
            echo_p50 = measure(docker, echo, body, 1, args.warm, args.memory)["warm_p50_ms"]
            forward = in_process(docker, image, body, args.memory, args.warm)
            floor = echo_p50 + forward["forward_p50_ms"]
            runs.append(
                {
                    "bench_p50_ms": bench_p50,
                    "echo_p50_ms": echo_p50,
                    "forward_p50_ms": forward["forward_p50_ms"],
                    "handler_p50_ms": forward["handler_p50_ms"],
                    "ratio": round(bench_p50 / floor, 3),
                }
            )
            print(json.dumps(runs[-1]))
    ratios = [r["ratio"] for r in runs]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    summary = {
        "memory_mb": args.memory,
        "texts": args.texts,
        "runs": runs,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    (out / "embed.json").write_text(json.dumps(summary, indent=2))
    print(f"warm p50 / (echo + forward) at {args.memory} MB, {args.texts} text(s): {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main()
