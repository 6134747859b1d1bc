"""Benchmark: the largest request each example serves at its memory size, its latency, and the
memory the function holds before and after it.

    .venv/bin/python benchmarks/largest.py [--examples text-embed,shapes-detect] [--runs 3] [--ordinary 100]

For each example (built with `lit build`; its model trained first when missing), one container of
its image runs under the function's memory and CPU share (lit.toml's [function] memory) with the
RIE, and in each of --runs runs it is sent:
- the largest request LIT serves: the cap on examples per request (lit_runtime.defaults.MAX_EXAMPLES)
  of the example's held-out inputs, or as many as fit Lambda's 6 MB request, whichever is smaller;
- then --ordinary requests of one input each.
Reported per run: the largest request's status, examples and latency; the runtime process's RSS
after init, after the largest request and after the ordinary ones; the container's peak memory
(cgroup v2 memory.peak, or v1 memory.max_usage_in_bytes) against its limit. Writes benchmarks/results/largest.json; removes its
containers and images.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "runtime"))

from lit_runtime.defaults import MAX_EXAMPLES  # noqa: E402
from spine import first_answer, free_port, post, start  # noqa: E402

from lit import build, project  # noqa: E402
from lit.docker import Docker  # noqa: E402

EXPORT_PYTHON = ROOT / ".venv-export" / "bin" / "python"
MAX_REQUEST = 6 * 1024 * 1024 - 4096  # Lambda's synchronous request limit, less room for the envelope
# the container's peak memory: cgroup v2's memory.peak, or v1's max_usage_in_bytes
PEAK = "cat /sys/fs/cgroup/memory.peak 2>/dev/null || cat /sys/fs/cgroup/memory/memory.max_usage_in_bytes"
RSS = (  # the runtime process's VmRSS in MB: the Python that awslambdaric runs in (not the RIE)
    "import os\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    try:\n"
    "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
    "    except OSError:\n"
    "        continue\n"
    "    if cmd.split(b'\\0')[0].endswith(b'python') and b'awslambdaric' in cmd:\n"
    "        rss = [l for l in open(f'/proc/{pid}/status') if l.startswith('VmRSS')][0].split()[1]\n"
    "        print(int(rss) // 1024)\n"
)


def inputs(example: Path) -> tuple[str, list[Any]]:
    """The example's input kind and its held-out inputs as a request carries them."""
    kind = project.load(example).input_kind
    if kind == "text":
        return kind, json.loads((example / "heldout.json").read_text())["texts"]
    if kind == "image":
        return kind, [base64.b64encode(p.read_bytes()).decode() for p in sorted((example / "heldout").glob("*.png"))]
    raise SystemExit(f"{example.name}: input kind {kind} is not measured here")


def largest(kind: str, pool: list[Any]) -> tuple[bytes, int]:
    """The largest request body: up to MAX_EXAMPLES inputs, and under MAX_REQUEST bytes."""
    key = "texts" if kind == "text" else "images"
    chosen: list[Any] = []
    size = 20
    while len(chosen) < MAX_EXAMPLES:
        item = pool[len(chosen) % len(pool)]
        size += len(json.dumps(item)) + 2
        if size > MAX_REQUEST:
            break
        chosen.append(item)
    return json.dumps({key: chosen}).encode(), len(chosen)


def ordinary(kind: str, pool: list[Any]) -> bytes:
    return json.dumps({"text": pool[0]} if kind == "text" else {"image": pool[0]}).encode()


def in_container(docker: Docker, cid: str, *cmd: str) -> str:
    return subprocess.run([docker.binary, "exec", cid, *cmd], capture_output=True, text=True, check=True).stdout


def measure(docker: Docker, image: str, memory: int, kind: str, pool: list[Any], count: int) -> dict:
    big, examples = largest(kind, pool)
    small = ordinary(kind, pool)
    port = free_port()
    cid = start(docker, image, port, memory)
    try:
        first_answer(port, small, time.perf_counter())
        rss = lambda: int(in_container(docker, cid, "/opt/lit/bin/python", "-c", RSS).split()[0])  # noqa: E731
        after_init = rss()
        t = time.perf_counter()
        try:
            answer = post(port, big, timeout=300)
            status = "200" if "predictions" in answer else json.dumps(answer)[:200]
        except Exception as exc:  # noqa: BLE001 - reported, not raised: a kill is a result
            status = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t
        after_largest = rss()
        for _ in range(count):
            post(port, small)
        after_ordinary = rss()
        peak = int(in_container(docker, cid, "sh", "-c", PEAK)) // (1024 * 1024)
    finally:
        docker.remove_container(cid)
    return {
        "examples": examples,
        "request_mb": round(len(big) / 1e6, 2),
        "status": status,
        "latency_s": round(seconds, 2),
        "rss_after_init_mb": after_init,
        "rss_after_largest_mb": after_largest,
        f"rss_after_{count}_ordinary_mb": after_ordinary,
        "container_peak_mb": peak,
        "memory_mb": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="text-embed,shapes-detect")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ordinary", type=int, default=100)
    args = parser.parse_args()
    docker = Docker()
    docker.ping()
    results: dict[str, Any] = {}
    for name in args.examples.split(","):
        example = ROOT / "images" / name
        if not (example / "model").is_dir():
            subprocess.run([str(EXPORT_PYTHON), str(example / "train.py")], check=True)
        proj = project.load(example)
        tag = f"lit-bench-largest-{name}:latest"
        image = build.build(docker, proj, tag, log=lambda _: None).image
        try:
            kind, pool = inputs(example)
            runs = [measure(docker, image, proj.function.memory, kind, pool, args.ordinary) for _ in range(args.runs)]
        finally:
            docker.remove_image(tag)
        results[name] = runs
        for run in runs:
            print(name, json.dumps(run))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "largest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
