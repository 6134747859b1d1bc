"""Benchmark: LIT's digits image against a hand-written image for the same model, in one run.

    .venv/bin/python benchmarks/spine.py [--cold 5] [--warm 300] [--memory 1024]

Builds (cached after the first run) the hand-written image and an echo-handler floor on the same
OS layer as LIT's base, then measures for each: image size, cold start (container start -> first
prediction) and warm invoke p50/p99 through the RIE, all under the same Lambda-like limits
(memory, CPU share = memory / 1,769 MB). Also: the model's in-process forward pass (inside the
LIT image, same limits), so that the warm floor is echo round trip + forward; and 10 SQS records
in one invoke against 10 single invokes. Prints a table and writes benchmarks/results/spine.json.
Ratios are taken within the run; absolute figures vary with the machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit import base, build, project, rie  # noqa: E402
from lit.docker import Docker, Publish, RunSpec  # noqa: E402

DIGITS = ROOT / "images" / "digits"
URL = "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"


def build_peer(docker: Docker, name: str, os_image: str, with_model: bool) -> str:
    tag = f"lit-bench-{name}:latest"
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        for f in (ROOT / "benchmarks" / name).iterdir():
            shutil.copy(f, ctx / f.name)
        shutil.copy(rie.find("x86_64"), ctx / "aws-lambda-rie")
        bundle = base.find_ca_bundle(None)
        (ctx / "ca-bundle.crt").write_bytes(bundle.read_bytes() if bundle else b"")
        if with_model:
            shutil.copytree(DIGITS / "model", ctx / "model")
        docker.build(ctx, tag, {"OS_IMAGE": os_image})
    return tag


def post(port: int, body: bytes, timeout: float = 120) -> dict:
    req = urllib.request.Request(URL.format(port=port), data=body, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def start(docker: Docker, image: str, port: int, memory: int) -> str:
    spec = RunSpec(
        image,
        publish=Publish(8080, port),
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=round(memory / project.MB_PER_VCPU, 3),
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)},
    )
    return docker.run(spec)


def first_answer(port: int, body: bytes, t0: float) -> float:
    while True:
        try:
            post(port, body)
            return time.perf_counter() - t0
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.005)
        if time.perf_counter() - t0 > 120:
            raise TimeoutError("no answer within 120 s")


def in_process(docker: Docker, image: str, body: bytes, memory: int, n: int) -> dict:
    """The model's forward pass and the whole handler, timed inside the image (no RIE)."""
    with tempfile.TemporaryDirectory() as tmp:
        event = Path(tmp) / "event.json"
        event.write_bytes(body)
        spec = RunSpec(
            image,
            ("/b/inprocess.py", "/e/event.json", str(n)),
            network="none",
            memory_mb=memory,
            cpus=round(memory / project.MB_PER_VCPU, 3),
            env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)},
            volumes={str(ROOT / "benchmarks"): "/b:ro", tmp: "/e:ro"},
            entrypoint="/opt/lit/bin/python",
        )
        proc = docker.run_once(spec)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def batch_vs_single(docker: Docker, image: str, png: bytes, memory: int, rounds: int) -> dict:
    """10 SQS records in one invoke against 10 direct invokes, warm, best-of-rounds medians."""
    b64 = base64.b64encode(png).decode()
    record = json.loads((ROOT / "tests" / "events" / "sqs-batch.json").read_text())["Records"][0]
    records = []
    for i in range(10):
        r = dict(record, messageId=f"m-{i}", body=json.dumps({"image": b64}))
        records.append(r)
    batch_body = json.dumps({"Records": records}).encode()
    single_body = json.dumps({"image": b64}).encode()
    port = free_port()
    cid = start(docker, image, port, memory)
    try:
        first_answer(port, single_body, time.perf_counter())
        answer = post(port, batch_body)
        assert not answer["batchItemFailures"], answer
        batches, singles = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            post(port, batch_body)
            batches.append(time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(10):
                post(port, single_body)
            singles.append(time.perf_counter() - t)
    finally:
        docker.remove_container(cid)
    b, s = statistics.median(batches) * 1000, statistics.median(singles) * 1000
    return {"batch_of_10_ms": round(b, 3), "ten_singles_ms": round(s, 3), "batch_over_singles": round(b / s, 3)}


def measure(docker: Docker, image: str, body: bytes, cold: int, warm: int, memory: int) -> dict:
    colds = []
    warms: list[float] = []
    for i in range(cold):
        port = free_port()
        t0 = time.perf_counter()
        cid = start(docker, image, port, memory)
        try:
            colds.append(first_answer(port, body, t0))
            if i == cold - 1:
                answer = post(port, body)
                for _ in range(warm):
                    t = time.perf_counter()
                    post(port, body)
                    warms.append(time.perf_counter() - t)
        finally:
            docker.remove_container(cid)
    warms.sort()
    info = docker.image(image) or {}
    return {
        "image": image,
        "size_mb": round(int(info.get("Size", 0)) / 1e6, 1),
        "cold_start_s": round(statistics.median(colds), 3),
        "cold_starts_s": [round(c, 3) for c in colds],
        "warm_p50_ms": round(warms[len(warms) // 2] * 1000, 3),
        "warm_p99_ms": round(warms[min(len(warms) - 1, int(len(warms) * 0.99))] * 1000, 3),
        "answer": answer,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--base", default=base.DEFAULT_BASE)
    parser.add_argument("--os-image", default=base.BOOTSTRAP_TAG, help="OS layer the peers are built on")
    args = parser.parse_args()

    docker = Docker()
    docker.ping()
    if not (DIGITS / "model" / "digits-0000.params").is_file():
        subprocess.run([sys.executable, str(DIGITS / "train.py")], check=True)
    ours = build.build(docker, project.load(DIGITS), "lit-bench-ours:latest", args.base).image
    peers = {
        "handwritten": build_peer(docker, "handwritten", args.os_image, True),
        "echo": build_peer(docker, "echo", args.os_image, False),
    }
    png = (DIGITS / "heldout" / "0000.png").read_bytes()
    body = json.dumps({"image": base64.b64encode(png).decode()}).encode()

    results = {}
    for name, image in (("lit", ours), ("handwritten", peers["handwritten"]), ("echo", peers["echo"])):
        results[name] = measure(docker, image, body, args.cold, args.warm, args.memory)
    lit, hand, echo = results["lit"], results["handwritten"], results["echo"]
    inproc = in_process(docker, ours, body, args.memory, args.warm)
    floor = echo["warm_p50_ms"] + inproc["forward_p50_ms"]
    batch = batch_vs_single(docker, ours, png, args.memory, max(5, args.warm // 20))
    ratios = {
        "size_lit_over_handwritten": round(lit["size_mb"] / hand["size_mb"], 3),
        "cold_lit_over_handwritten": round(lit["cold_start_s"] / hand["cold_start_s"], 3),
        "warm_p50_lit_over_handwritten": round(lit["warm_p50_ms"] / hand["warm_p50_ms"], 3),
        "warm_p50_lit_over_floor": round(lit["warm_p50_ms"] / floor, 3),
        "warm_p50_handwritten_over_floor": round(hand["warm_p50_ms"] / floor, 3),
        "sqs_batch_of_10_over_10_singles": batch["batch_over_singles"],
    }
    report = {
        "memory_mb": args.memory,
        "cold_runs": args.cold,
        "warm_invokes": args.warm,
        "results": results,
        "ratios": ratios,
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "spine.json").write_text(json.dumps(report, indent=2))
    print(f"{'image':<12}{'size MB':>10}{'cold s':>10}{'warm p50 ms':>14}{'warm p99 ms':>14}")
    for name, r in results.items():
        print(f"{name:<12}{r['size_mb']:>10}{r['cold_start_s']:>10}{r['warm_p50_ms']:>14}{r['warm_p99_ms']:>14}")
    print(
        f"in-process (LIT image): forward p50 {inproc['forward_p50_ms']} ms, whole handler p50 {inproc['handler_p50_ms']} ms"
    )
    print(f"floor = echo round trip + forward = {floor:.3f} ms")
    print(f"SQS: 10 records in one invoke {batch['batch_of_10_ms']} ms vs 10 invokes {batch['ten_singles_ms']} ms")
    for key, value in ratios.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
