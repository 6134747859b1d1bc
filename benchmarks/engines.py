"""Benchmark: one ResNet-50 checkpoint served by MXNet and by ONNX Runtime, in one run.

    .venv/bin/python benchmarks/engines.py [--memory 1024,2048,3008] [--cold 3] [--warm 100] [--inprocess 30] [--keep]

Makes a ResNet-50 (random weights, seeded) with Gluon, exports it into two temporary projects that
differ only in `[model] engine` (mxnet, onnxruntime), builds both with `lit build` (size, build
time) and measures both with `lit bench` at each memory size on the same 224x224 JPEG event: init,
warm p50/p99 through the RIE. The floor per size is the ONNX Runtime forward pass timed in process
inside its image at the same CPU share, plus the echo handler's RIE round trip (benchmarks/spine.py
builds it). Also times decoding a 3x224x224 float32 tensor sent as JSON lists against .npy bytes
(on the host, json.loads included). Prints a table and the ratios against their targets, writes
benchmarks/results/engines.json, and removes its containers, the two function images and their
build stages (unless --keep); base images and spine's echo image stay. Ratios are taken within the
run; absolute figures vary with the machine. With the bases missing, `lit build` builds them first (its time says so).
"""

from __future__ import annotations

import argparse
import base64
import gc
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import spine  # noqa: E402

from lit import base, local  # noqa: E402
from lit.docker import Docker, Publish, RunSpec  # noqa: E402

LIT = ROOT / ".venv" / "bin" / "lit"
ENGINES = {"mxnet": "bench-r50-mxnet", "onnxruntime": "bench-r50-ort"}
NO_INPROCESS: dict[str, Any] = {"forward_ms": None, "handler_ms": None}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
INPROCESS = """
import io, json, statistics, sys, time
from contextlib import redirect_stdout
from lit_runtime import events
from lit_runtime.app import App
event, n = json.load(open("/e/event.json")), int(sys.argv[1])
with redirect_stdout(io.StringIO()):
    app = App.start()
    batch = app.hooks["preprocess"](events.parse(event, app.ctx.settings.input_kind).inputs, app.ctx)
    out = {}
    for name, fn in (("forward", lambda: app.hooks["inference"](batch, app.ctx)), ("handler", lambda: app.handle(event))):
        for _ in range(3):
            fn()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        out[name + "_ms"] = round(statistics.median(times), 3)
print(json.dumps(out))
"""


def make_projects(root: Path) -> dict[str, Path]:
    import mxnet as mx

    mx.random.seed(0)
    net = mx.gluon.model_zoo.vision.resnet50_v1(pretrained=False)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.random.uniform(shape=(1, 3, 224, 224))).wait_to_read()
    dirs = {}
    for engine, name in ENGINES.items():
        project = root / name
        (project / "model").mkdir(parents=True)
        net.export(str(project / "model" / "resnet50"))
        engine_line = 'engine = "onnxruntime"\n' if engine == "onnxruntime" else ""
        (project / "lit.toml").write_text(
            f'name = "{name}"\n\n[model]\npath = "model"\nformat = "mxnet"\n{engine_line}input = "image"\ntop_k = 5\n\n'
            f'[image]\nsize = [224, 224]\ncolor = "rgb"\nmean = {MEAN}\nstd = {STD}\n\n'
            "[function]\nmemory = 3008\ntimeout = 60\n"
        )
        dirs[engine] = project
    return dirs


def jpeg_event() -> bytes:
    """A photo-like 224x224 JPEG: colour gradients, a few shapes and sensor noise (seeded)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:224, 0:224].astype(np.float32)
    img = np.stack([x, y, (x + y) / 2], axis=-1) + rng.normal(0, 12, (224, 224, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.circle(img, (80, 100), 40, (30, 160, 220), -1)
    cv2.rectangle(img, (120, 40), (200, 150), (200, 60, 40), -1)
    ok, jpg = cv2.imencode(".jpg", cv2.GaussianBlur(img, (3, 3), 0), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return json.dumps({"image": base64.b64encode(jpg.tobytes()).decode()}).encode()


def lit_json(*args: str, timeout: float = 7200) -> tuple[dict[str, Any], float]:
    """Run `lit ARGS --json`; the object it printed and the wall time. LIT's own error is raised as is."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(LIT), *args, "--json"], capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - t0
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):  # a failure with no report (a size that failed is in the report)
        raise RuntimeError(f"`lit {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr.strip()[-3000:]}")
    return doc, seconds


def in_process(docker: Docker, image: str, event: Path, memory: int, n: int, started: list[str]) -> dict[str, float]:
    """The engine's forward pass and the whole handler, timed inside the image at the size's CPU share."""
    name = f"lit-bench-engines-{uuid.uuid4().hex[:8]}"
    started.append(name)
    spec = RunSpec(
        image,
        ("-c", INPROCESS, str(n)),
        name=name,
        network="none",
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=local.cpu_share(memory),
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)},
        volumes={str(event.parent): "/e:ro"},
        entrypoint="/opt/lit/bin/python",
    )
    proc = docker.run_once(spec, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"in-process timing in {image} failed:\n{proc.stderr[-3000:]}")
    return {k: float(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def echo_p50(docker: Docker, image: str, body: bytes, memory: int, warm: int, started: list[str]) -> float:
    """The RIE round trip of the echo handler, warm, as spine.measure takes it (CPU share capped at the host's)."""
    name, port = f"lit-bench-engines-echo-{uuid.uuid4().hex[:8]}", spine.free_port()
    started.append(name)
    spec = RunSpec(
        image,
        name=name,
        publish=Publish(8080, port),
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=local.cpu_share(memory),
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)},
    )
    docker.run(spec)
    try:
        spine.first_answer(port, body, time.perf_counter())
        spine.post(port, body)
        times = []
        for _ in range(warm):
            t = time.perf_counter()
            spine.post(port, body)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        docker.remove_container(name)
    return round(statistics.median(times), 3)


def tensor_decode(runs: int = 20) -> dict[str, float]:
    """Median ms from the raw JSON string to the float32 batch: JSON nested lists vs base64 .npy."""
    import numpy as np
    from lit_runtime import defaults, events

    ctx = SimpleNamespace(model=None, settings=SimpleNamespace(input_kind="tensor"))
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x)
    raws = {
        "json": json.dumps({"inputs": x.tolist()}),
        "npy": json.dumps({"npy": base64.b64encode(buf.getvalue()).decode()}),
    }
    out: dict[str, float] = {}
    for kind, raw in raws.items():
        gc.collect()  # each series from a collected heap, as the runtime is after init (gc.freeze)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            batch = defaults.preprocess_tensor(events.parse(json.loads(raw), "tensor").inputs, ctx)
            times.append((time.perf_counter() - t) * 1000)
            assert batch.shape == x.shape and np.array_equal(batch, x), (kind, batch.shape)
        out[f"{kind}_ms"] = round(statistics.median(times), 3)
        out[f"{kind}_event_mb"] = round(len(raw) / 1e6, 2)
    return out


def target(name: str, value: float | None, limit: float) -> dict[str, Any]:
    return {"name": name, "value": value, "target": f"<= {limit:g}", "met": value is not None and value <= limit}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def floor_of(size: dict[str, Any], echo: float) -> float | None:
    """The warm floor at a size: the in-process forward pass plus the echo round trip."""
    return round(size["forward_ms"] + echo, 3) if size["forward_ms"] is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", default="1024,2048,3008", help="memory sizes in MB, comma-separated")
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--inprocess", type=int, default=30, help="in-process runs per engine and size (median)")
    parser.add_argument("--keep", action="store_true", help="keep the two function images")
    parser.add_argument("--os-image", default=base.BOOTSTRAP_TAG, help="OS layer of the echo image")
    args = parser.parse_args()
    memories = [int(m) for m in args.memory.split(",")]
    docker = Docker()
    docker.ping()
    started: list[str] = []
    images: list[str] = []
    report: dict[str, Any] = {"memory_mb": memories, "cold_runs": args.cold, "warm_invokes": args.warm}
    with tempfile.TemporaryDirectory(prefix="lit-bench-engines-") as tmp:
        try:
            projects = make_projects(Path(tmp))
            event = Path(tmp) / "event" / "event.json"
            event.parent.mkdir()
            body = jpeg_event()
            event.write_bytes(body)
            engines: dict[str, Any] = {}
            for engine, project in projects.items():
                needed = ["mxnet", engine]  # an MXNet checkpoint on ONNX Runtime is exported on the MXNet base
                missing = sorted({base.default_tag(e) for e in needed if docker.image(base.default_tag(e)) is None})
                built, wall = lit_json("build", str(project))
                images.append(built["image"])
                note = f" (including the base build of {', '.join(missing)})" if missing else ""
                print(f"built {built['image']}: {built['size'] / 1e6:.1f} MB in {wall:.1f} s{note}", flush=True)
                bench, _ = lit_json(
                    "bench", str(project), "--memory", args.memory, "--cold", str(args.cold),
                    "--warm", str(args.warm), "--event", str(event),
                )  # fmt: skip
                sizes = {}
                for r in bench["results"]:
                    cold = r.get("cold") or {}
                    # a size the function failed at (out of memory, say) is not timed in process either
                    timed = NO_INPROCESS if r["error"] else in_process(docker, built["image"], event, r["memory"],
                                                                       args.inprocess, started)  # fmt: skip
                    sizes[r["memory"]] = {
                        "error": r["error"],
                        "init_ms": cold.get("init_ms"),
                        "model_load_ms": cold.get("model_load_ms"),
                        "warm_p50_ms": r["warm_p50_ms"] if not r["error"] else None,
                        "warm_p99_ms": r["warm_p99_ms"] if not r["error"] else None,
                        **timed,
                    }
                    print(f"{engine} {r['memory']} MB: {r['error'] or 'measured'}", flush=True)
                engines[engine] = {
                    "image": built["image"], "size_mb": round(built["size"] / 1e6, 1),
                    "build_s": round(wall, 1), "build_seconds_reported": built.get("seconds"),
                    "bases_built_during_build": missing, "sizes": sizes,
                }  # fmt: skip
            echo_image = spine.build_peer(docker, "echo", args.os_image, False)
            echo = {m: echo_p50(docker, echo_image, body, m, args.warm, started) for m in memories}
        finally:
            for name in started:
                docker.remove_container(name)
            for project in ENGINES.values():
                subprocess.run([str(LIT), "stop", str(Path(tmp) / project)], capture_output=True, check=False)
            for image in images if not args.keep else []:
                docker.remove_image(image)
            for project in ENGINES.values() if not args.keep else []:  # their export/optimise stages
                for stage in docker.dangling("lit.stage=function-build", f"lit.project={project}"):
                    docker.remove_image(stage)
    mx_, ort = engines["mxnet"], engines["onnxruntime"]
    targets, per_size = [], {}
    for m in memories:
        a, b = mx_["sizes"][m], ort["sizes"][m]
        floor = floor_of(b, echo[m])
        row = {
            "echo_p50_ms": echo[m],
            "floor_ms": floor,
            "ort_over_mxnet_p50": ratio(b["warm_p50_ms"], a["warm_p50_ms"]),
            "ort_over_floor_p50": ratio(b["warm_p50_ms"], floor),
            "mxnet_over_own_floor_p50": ratio(a["warm_p50_ms"], floor_of(a, echo[m])),
        }
        per_size[m] = row
        targets.append(target(f"{m} MB: ORT warm p50 / MXNet warm p50", row["ort_over_mxnet_p50"], 0.8))
        targets.append(target(f"{m} MB: ORT warm p50 / (ORT forward + echo p50)", row["ort_over_floor_p50"], 1.1))
    top = max(memories)
    size_ratio = ratio(ort["size_mb"], mx_["size_mb"])
    init_ratio = ratio(ort["sizes"][top]["init_ms"], mx_["sizes"][top]["init_ms"])
    targets.append(target("image size ORT / MXNet", size_ratio, 0.6))
    targets.append(target(f"{top} MB: init ORT / MXNet", init_ratio, 0.6))
    decode = tensor_decode()
    targets.append(target("npy decode ms (3x224x224 float32)", decode["npy_ms"], 5.0))
    report.update(engines=engines, echo_p50_ms=echo, per_size=per_size, tensor_decode=decode, targets=targets)
    report.update(size_ratio_ort_over_mxnet=size_ratio, init_ratio_ort_over_mxnet=init_ratio)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "engines.json").write_text(json.dumps(report, indent=2))

    print(f"\n{'engine':<12}{'image MB':>10}{'build s':>10}")
    for engine, e in engines.items():
        bases = e["bases_built_during_build"]
        note = f"  (with base build: {', '.join(bases)})" if bases else ""
        print(f"{engine:<12}{_cell(e['size_mb']):>10}{_cell(e['build_s']):>10}{note}")
    head = ("memory", "engine", "init ms", "load ms", "p50 ms", "p99 ms", "forward", "handler", "echo", "p50/floor")
    print("\n" + "".join(f"{h:>12}" for h in head))
    for m in memories:
        for engine, e in engines.items():
            s = e["sizes"][m]
            own = ratio(s["warm_p50_ms"], floor_of(s, echo[m]))
            cells = (m, engine, s["init_ms"], s["model_load_ms"], s["warm_p50_ms"], s["warm_p99_ms"])
            cells += (s["forward_ms"], s["handler_ms"], echo[m], own)
            print("".join(f"{_cell(c):>12}" for c in cells) + (f"  {s['error']}" if s["error"] else ""))
    print(
        f"\ntensor decode (json.loads + parse + preprocess): JSON {decode['json_ms']} ms ({decode['json_event_mb']} MB)"
        f", npy {decode['npy_ms']} ms ({decode['npy_event_mb']} MB)\n"
    )
    for t in targets:
        print(f"{'met    ' if t['met'] else 'NOT met'}  {t['name']}: {t['value']} (target {t['target']})")
    print(f"\nwrote {out / 'engines.json'}")


def _cell(value: object) -> str:
    """A table cell: a dash for no value, floats to two places, and a space before the next column."""
    text = "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
    return f" {text}"


if __name__ == "__main__":
    main()
