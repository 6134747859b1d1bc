"""Benchmark: `lit bench` on the embedding example (images/text-embed) against its floor, in one run.

    .venv/bin/python benchmarks/embed.py [--runs 3] [--warm 200] [--memory 1024] [--texts 1]

Two baselines, measured in the same run under the same limits (memory, CPU share = memory / 1,769 MB):
- the floor: the RIE round trip of an echo handler (benchmarks/echo, on the same OS layer) plus the
  model's in-process forward pass inside the function image, timed back to back
  (benchmarks/inprocess.py). It leaves out work every embedding function does (tokenizing, pooling,
  the answer's JSON) and the forward pass's cost after an idle gap, so no handler reaches it;
- a hand-written handler (benchmarks/handwritten_embed: tokenizer, session.run, mean pooling,
  normalize; 25 lines, no checks) run in the same LIT image with its CMD replaced, through the RIE.
For each of --runs runs: `lit bench` at --memory (its warm p50), the echo image's warm p50, the
in-process forward p50 and the hand-written handler's warm p50. Reports bench / (echo + forward),
hand-written / (echo + forward) and bench / hand-written as min-max over the runs. Writes
benchmarks/results/embed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from spine import build_peer, first_answer, free_port, in_process, measure, post  # noqa: E402

from lit import base, build, project  # noqa: E402
from lit.docker import Docker, Publish, RunSpec  # noqa: E402

EXAMPLE = ROOT / "images" / "text-embed"
EXPORT_PYTHON = ROOT / ".venv-export" / "bin" / "python"
HANDWRITTEN = ROOT / "benchmarks" / "handwritten_embed"


def handwritten(docker: Docker, image: str, body: bytes, warm: int, memory: int) -> float:
    """The hand-written handler's warm p50 (ms) through the RIE, in the LIT image with its CMD replaced."""
    port = free_port()
    spec = RunSpec(
        image,
        ("handler.handler",),
        publish=Publish(8080, port),
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=round(memory / project.MB_PER_VCPU, 3),
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory), "PYTHONPATH": "/opt/handwritten"},
        volumes={str(HANDWRITTEN): "/opt/handwritten:ro"},
    )
    cid = docker.run(spec)
    try:
        first_answer(port, body, time.perf_counter())
        for _ in range(20):
            post(port, body)
        times = []
        for _ in range(warm):
            t = time.perf_counter()
            post(port, body)
            times.append((time.perf_counter() - t) * 1000)
        return round(statistics.median(times), 3)
    finally:
        docker.remove_container(cid)


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
            hand_p50 = handwritten(docker, image, body, args.warm, args.memory)
            floor = echo_p50 + forward["forward_p50_ms"]
            runs.append(
                {
                    "bench_p50_ms": bench_p50,
                    "handwritten_p50_ms": hand_p50,
                    "echo_p50_ms": echo_p50,
                    "forward_p50_ms": forward["forward_p50_ms"],
                    "handler_p50_ms": forward["handler_p50_ms"],
                    "ratio": round(bench_p50 / floor, 3),
                    "handwritten_ratio": round(hand_p50 / floor, 3),
                    "bench_over_handwritten": round(bench_p50 / hand_p50, 3),
                }
            )
            print(json.dumps(runs[-1]))
    ratios = [r["ratio"] for r in runs]
    hands = [r["handwritten_ratio"] for r in runs]
    overs = [r["bench_over_handwritten"] for r in runs]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    summary = {
        "memory_mb": args.memory,
        "texts": args.texts,
        "runs": runs,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "handwritten_ratio_min": min(hands),
        "handwritten_ratio_max": max(hands),
        "bench_over_handwritten_min": min(overs),
        "bench_over_handwritten_max": max(overs),
    }
    (out / "embed.json").write_text(json.dumps(summary, indent=2))
    print(f"at {args.memory} MB, {args.texts} text(s), min-max over {args.runs} runs:")
    print(f"  lit bench / (echo + forward):    {min(ratios):.3f}-{max(ratios):.3f}")
    print(f"  hand-written / (echo + forward): {min(hands):.3f}-{max(hands):.3f}")
    print(f"  lit bench / hand-written:        {min(overs):.3f}-{max(overs):.3f}")


if __name__ == "__main__":
    main()
