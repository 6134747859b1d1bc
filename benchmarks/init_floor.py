"""Benchmark: LIT's init against its floor, for each ONNX example and ResNet-50 on ONNX Runtime.

    .venv/bin/python benchmarks/init_floor.py [--memory 1024] [--runs 5] [--keep]

Builds with `lit build` images/cnn-onnx, digits-onnx (served by ONNX Runtime), shapes-detect,
text-embed, text-topics and benchmarks/engines.py's ResNet-50 on ONNX Runtime (the examples must be
trained first). For each, at the memory size's limits (memory, CPU share = memory / 1,769 MB):
- LIT's init: the runtime's own init line (imports, setup, model load, warm-up, init, from process
  start) over `--runs` cold starts through the RIE (`lit bench --cold`);
- the floor: a bare Python process in the same image, same limits, that imports numpy and
  onnxruntime and reads the model's bytes, `--runs` times, timed from process start the same way;
- once, where the rest goes: `python -X importtime` of the runtime's init (its heaviest top-level
  imports), which modules it loaded (no cv2 or PIL for a tensor or text model), and the session's
  creation taken apart: graph load only (optimisations off), the portable optimisations (done
  already at build time, so nearly free here), the CPU-specific ones (layout changes for this CPU's
  vector width), weight prepacking, and the first run.
Prints min-max per figure and init / floor, writes benchmarks/results/init_floor.json and removes the
function images and their build stages (unless --keep). Ratios are taken within the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sizes  # noqa: E402

from lit import local  # noqa: E402
from lit.docker import Docker, RunSpec  # noqa: E402

EXAMPLES = {  # example -> (kind, event)
    "cnn-onnx": ("tensor", {"inputs": [[[[0.5] * 8] * 8]]}),
    "digits-onnx": ("tensor", {"inputs": [[[[0.5] * 8] * 8]]}),
    "shapes-detect": ("image", None),
    "text-embed": ("text", None),
    "text-topics": ("text", None),
}
# The process start on the perf_counter clock, as lit_runtime.app._process_start takes it (10 ms ticks).
START = """
import os, time
_t = open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]
p0 = time.perf_counter() - (float(open("/proc/uptime").read().split()[0]) - int(_t) / os.sysconf("SC_CLK_TCK"))
"""
FLOOR = (
    START
    + """
import json
import numpy, onnxruntime
t1 = time.perf_counter()
n = 0
for d, _, files in os.walk("/var/task/model"):
    for f in files:
        with open(os.path.join(d, f), "rb") as fh:
            n += len(fh.read())
t2 = time.perf_counter()
print(json.dumps({"imports_ms": (t1 - p0) * 1000, "read_ms": (t2 - t1) * 1000, "floor_ms": (t2 - p0) * 1000, "bytes": n}))
"""
)
# The runtime's init as the runtime client runs it (awslambdaric imported first), under -X importtime.
PROBE = """
import io, json, sys
from contextlib import redirect_stdout
import awslambdaric.bootstrap
from lit_runtime.app import App
with redirect_stdout(io.StringIO()):
    App.start()
print(json.dumps(sorted(m for m in ("cv2", "PIL", "lit_runtime.pixels", "tokenizers") if m in sys.modules)))
"""
# Session creation taken apart, on the graph the image serves (the build's optimised one).
PHASES = """
import json, time
from pathlib import Path
import numpy as np
import onnxruntime as ort
from lit_runtime import onnxrt, threads

cpus = threads.configure()
path = str(onnxrt.find(Path("/var/task/model")))
L = ort.GraphOptimizationLevel

def session(level, prepack=True):
    opts = onnxrt.session_options(cpus)
    opts.graph_optimization_level = level
    if not prepack:
        opts.add_session_config_entry("session.disable_prepacking", "1")
    t = time.perf_counter()
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return s, (time.perf_counter() - t) * 1000

def feeds(s):
    out = {}
    for i in s.get_inputs():
        dims = [d if isinstance(d, int) else (1 if k == 0 else 16) for k, d in enumerate(i.shape)]
        kind = np.int64 if "int64" in i.type else np.float32
        out[i.name] = np.ones(dims, kind)
    return out

session(L.ORT_DISABLE_ALL)  # the process's one-time costs (environment, thread pools) out of the way
times = {k: [] for k in ("load", "portable", "no_prepack", "lit", "first_run")}
for _ in range(3):
    times["load"].append(session(L.ORT_DISABLE_ALL)[1])
    times["portable"].append(session(L.ORT_ENABLE_EXTENDED)[1])
    times["no_prepack"].append(session(L.ORT_ENABLE_ALL, prepack=False)[1])
    s, ms = session(L.ORT_ENABLE_ALL)
    times["lit"].append(ms)
    f = feeds(s)
    t = time.perf_counter()
    s.run(None, f)
    times["first_run"].append((time.perf_counter() - t) * 1000)
print(json.dumps({k: round(min(v), 1) for k, v in times.items()}))
"""
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def limits(image: str, memory: int, command: tuple[str, ...], env: dict[str, str] | None = None) -> RunSpec:
    return RunSpec(
        image,
        command,
        name=f"lit-bench-floor-{uuid.uuid4().hex[:8]}",
        network="none",
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=local.cpu_share(memory),
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory), **(env or {})},
        entrypoint="/opt/lit/bin/python",
        remove=True,
    )


def floor_run(image: str, memory: int, env: dict[str, str] | None = None) -> RunSpec:
    """The floor's process forked by a shell, as the RIE forks the runtime's: a container's first
    process counts the container's own set-up in its start time."""
    spec = limits(image, memory, ("-c", '/opt/lit/bin/python -c "$1"; :', "sh", FLOOR), env)
    return dataclasses.replace(spec, entrypoint="/bin/sh")


def run_json(docker: Docker, spec: RunSpec) -> tuple[Any, str]:
    proc = docker.run_once(spec, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.image}: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def heaviest_imports(stderr: str, n: int = 8) -> list[tuple[str, float]]:
    """The top-level imports of an -X importtime log by cumulative ms, largest first."""
    top = [(m.group(4), int(m.group(2)) / 1000) for m in IMPORTTIME.finditer(stderr) if not m.group(3)]
    return [(name, round(ms, 1)) for name, ms in sorted(top, key=lambda x: -x[1])[:n]]


def span(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def measure(docker: Docker, image: str, project: Path, event: Path | None, memory: int, runs: int) -> dict[str, Any]:
    args = ["bench", str(project), "--image", image, "--memory", str(memory), "--cold", str(runs), "--warm", "10"]
    bench, _ = sizes.lit_json(*args, *(["--event", str(event)] if event else []))
    result = bench["results"][0]
    if result["error"]:
        raise RuntimeError(f"{image}: {result['error']}")
    colds = result["colds"]
    lit = {k: span([c[k] for c in colds]) for k in ("imports_ms", "setup_ms", "model_load_ms", "warm_up_ms", "init_ms")}
    floors = [run_json(docker, floor_run(image, memory))[0] for _ in range(runs)]
    floor = {k: span([f[k] for f in floors]) for k in ("imports_ms", "read_ms", "floor_ms")}
    # the same process with OpenBLAS's threads sized as LIT sizes them before numpy loads
    threads = {"OPENBLAS_NUM_THREADS": str(max(1, math.ceil(local.cpu_share(memory) - 0.05)))}
    tuned = [run_json(docker, floor_run(image, memory, threads))[0]["floor_ms"] for _ in range(runs)]
    loaded, trace = run_json(docker, limits(image, memory, ("-X", "importtime", "-c", PROBE)))
    phases, _ = run_json(docker, limits(image, memory, ("-c", PHASES)))
    inits, bare = [c["init_ms"] for c in colds], [f["floor_ms"] for f in floors]
    return {
        "image": image,
        "model_mb": round(floors[0]["bytes"] / 1e6, 2),
        "lit": lit,
        "floor": floor,
        "floor_with_lit_threads_ms": span(tuned),
        "init_over_floor": {
            "median": round(statistics.median(inits) / statistics.median(bare), 2),
            "min": round(min(inits) / max(bare), 2),
            "max": round(max(inits) / min(bare), 2),
        },
        "init_over_floor_with_lit_threads": round(statistics.median(inits) / statistics.median(tuned), 2),
        "heaviest_imports_ms": heaviest_imports(trace),
        "decoders_loaded_at_init": loaded,
        "session_ms": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5, help="cold starts and floor runs per model")
    parser.add_argument("--keep", action="store_true", help="keep the function images")
    args = parser.parse_args()
    docker = Docker()
    docker.ping()
    built: list[tuple[str, str]] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lit-bench-floor-") as tmp:
        root = Path(tmp)
        try:
            projects: dict[str, tuple[Path, Any]] = {}
            for name, (_, event) in EXAMPLES.items():
                projects[name] = (sizes.example(name, root / name, f"bench-floor-{name}", "onnxruntime"), event)
            import engines  # ResNet-50 (random weights, seeded); only its ONNX Runtime project is built

            r50 = engines.make_projects(root / "r50")["onnxruntime"]
            photo = root / "r50-event.json"
            photo.write_bytes(engines.jpeg_event())
            projects["resnet50"] = (r50, photo)
            for name, (project, event) in projects.items():
                image = sizes.build(docker, project, built)["image"]
                if isinstance(event, dict):
                    path = root / f"{name}-event.json"
                    path.write_text(json.dumps(event))
                    event = path
                results[name] = measure(docker, image, project, event, args.memory, args.runs)
                print(f"{name}: init/floor {results[name]['init_over_floor']['median']}", flush=True)
        finally:
            if not args.keep:
                sizes.cleanup(docker, built)
    kinds = {name: EXAMPLES[name][0] if name in EXAMPLES else "image" for name in results}
    targets = [
        sizes.target(f"{name} init / floor (median)", r["init_over_floor"]["median"], 1.3)
        for name, r in results.items()
        if kinds[name] in ("tensor", "text")
    ]
    targets += [
        sizes.target(f"{name} runtime imports ms (median)", r["lit"]["imports_ms"]["median"], 150)
        for name, r in results.items()
        if kinds[name] == "tensor"
    ]
    report = {"memory_mb": args.memory, "runs": args.runs, "models": results, "targets": targets}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "init_floor.json").write_text(json.dumps(report, indent=2))

    def cell(s: dict[str, float]) -> str:
        return f"{s['min']:.0f}-{s['max']:.0f}"

    head = (
        "model",
        "MB",
        "imports",
        "load",
        "warm-up",
        "init",
        "floor imp",
        "floor",
        "init/floor",
        "floor'",
        "init/floor'",
    )
    print(f"\nat {args.memory} MB, min-max over {args.runs} runs (ms)\n" + "".join(f" {h:>13}" for h in head))
    for name, r in results.items():
        lit, floor = r["lit"], r["floor"]
        row = (name, r["model_mb"], cell(lit["imports_ms"]), cell(lit["model_load_ms"]), cell(lit["warm_up_ms"]))
        row += (cell(lit["init_ms"]), cell(floor["imports_ms"]), cell(floor["floor_ms"]))
        row += (f"{r['init_over_floor']['median']} ({r['init_over_floor']['min']}-{r['init_over_floor']['max']})",)
        row += (cell(r["floor_with_lit_threads_ms"]), r["init_over_floor_with_lit_threads"])
        print("".join(f" {c!s:>13}" for c in row))
    print(
        "init/floor: medians (min init / max floor - max init / min floor); floor': with OpenBLAS threads as LIT sets them"
    )
    print("\nsession creation (ms, best of 3): load only | + portable opts | + CPU-specific opts, no prepack | LIT's")
    for name, r in results.items():
        s = r["session_ms"]
        print(
            f"  {name:<14} {s['load']:>7} {s['portable']:>7} {s['no_prepack']:>7} {s['lit']:>7}"
            f"   first run {s['first_run']}   decoders at init: {r['decoders_loaded_at_init'] or 'none'}"
        )
        print(f"  {'':<14} heaviest imports: {', '.join(f'{m} {ms}' for m, ms in r['heaviest_imports_ms'][:6])}")
    print()
    for t in targets:
        print(f"{'met    ' if t['met'] else 'NOT met'}  {t['name']}: {t['value']} (target {t['target']})")
    print(f"\nwrote {out / 'init_floor.json'}")


if __name__ == "__main__":
    main()
