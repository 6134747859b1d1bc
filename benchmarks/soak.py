"""Soak: N sequential warm invokes of the digits function (default 10,000), memory must stay flat.

    .venv/bin/python benchmarks/soak.py [--invokes 10000] [--memory 1024]

Runs images/digits as `lit run` does (Lambda's sandbox, memory limit, CPU share) and sends the
held-out PNG digits in turn, with every tenth request a client error (undecodable bytes), so the
error path is soaked too. Reports the runtime's RSS (peak, from its request log line) and the
container's memory use (cgroup, sampled from the host) after the first 100 invokes and at the
end, and the answers' accuracy. Writes benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit import local, project  # noqa: E402
from lit.docker import Docker  # noqa: E402

DIGITS = ROOT / "images" / "digits"


def cgroup_usage_mb(container: str) -> float:
    for path in (
        Path(f"/sys/fs/cgroup/memory/docker/{container}/memory.usage_in_bytes"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{container}.scope/memory.current"),
    ):
        if path.is_file():
            return round(int(path.read_text()) / 2**20, 1)
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invokes", type=int, default=10_000)
    ap.add_argument("--memory", type=int, default=1024)
    ap.add_argument("--port", type=int, default=9310)
    args = ap.parse_args()

    docker = Docker()
    proj = project.load(DIGITS)
    labels = json.loads((DIGITS / "heldout" / "labels.json").read_text())["labels"]
    cases = [
        (json.dumps({"image": base64.b64encode((DIGITS / "heldout" / name).read_bytes()).decode()}).encode(), label)
        for name, label in sorted(labels.items())
    ]
    bad = json.dumps({"image": base64.b64encode(b"not an image at all").decode()}).encode()
    running = local.start(docker, proj, port=args.port, memory=args.memory)
    samples: list[tuple[int, float]] = []
    right = answered = errors = 0
    latencies: list[float] = []
    t_start = time.perf_counter()
    try:
        for i in range(args.invokes):
            body, label = (bad, None) if i % 10 == 9 else cases[i % len(cases)]
            t0 = time.perf_counter()
            status, raw, _ = local.post(running.url, body, 60)
            latencies.append((time.perf_counter() - t0) * 1000)
            answer = json.loads(raw)
            if label is None:
                errors += answer.get("errorType") == "InputError"
            else:
                answered += 1
                right += int(answer["predictions"][0][0]["label"]) == int(label)
            if i + 1 == 100 or (i + 1) % 1000 == 0:
                samples.append((i + 1, cgroup_usage_mb(running.container)))
        elapsed = time.perf_counter() - t_start
        rss = [float(line["max_rss_mb"]) for line in local.runtime_lines(docker.logs(running.container), "request")]
    finally:
        local.stop(docker, proj)

    result = {
        "invokes": args.invokes,
        "memory": args.memory,
        "seconds": round(elapsed, 1),
        "accuracy": round(right / answered, 4),
        "client_errors_answered": errors,
        "rss_mb_after_100": rss[99],
        "rss_mb_at_end": rss[-1],
        "rss_growth_mb": round(rss[-1] - rss[99], 1),
        "cgroup_mb": samples,
        "cgroup_growth_mb": round(samples[-1][1] - samples[0][1], 1),
        "p50_ms": round(statistics.median(latencies), 3),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    print(
        f"{args.invokes} warm invokes in {result['seconds']} s (p50 {result['p50_ms']} ms), "
        f"accuracy {result['accuracy']}, {errors} client errors answered\n"
        f"runtime RSS (peak): {result['rss_mb_after_100']} MB after 100 -> {result['rss_mb_at_end']} MB at the end "
        f"(+{result['rss_growth_mb']} MB)\n"
        f"container memory (cgroup): {samples[0][1]} MB after 100 -> {samples[-1][1]} MB at the end "
        f"(+{result['cgroup_growth_mb']} MB)"
    )


if __name__ == "__main__":
    main()
