"""Benchmark: the ONNX Runtime images' size targets, by `docker image inspect`, in one run.

    .venv/bin/python benchmarks/sizes.py [--keep]

Builds with `lit build` (the bases LIT_BASE_IMAGE and LIT_BASE_IMAGE_ONNXRUNTIME name, or the
defaults; a missing base is built first): images/text-topics on ONNX Runtime; images/digits on
MXNet and the same project with `engine = "onnxruntime"` (exported to ONNX when the image is built,
decoded by Pillow); ResNet-50 on MXNet and on ONNX Runtime (benchmarks/engines.py's two projects).
Prints each image's size with its base's, the ratios against the targets (text-topics <= 300 MB,
ResNet-50 ORT / MXNet <= 0.6, digits ORT / MXNet <= 0.6) and what the ONNX Runtime base holds,
largest first. Writes benchmarks/results/sizes.json and removes the function images and their build
stages (unless --keep). The examples must be trained first (their train.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from lit import base, cache  # noqa: E402
from lit.docker import Docker, RunSpec  # noqa: E402

# What the base's own layers hold, largest first (KB, path).
DU = (
    "cd /opt/lit/lib/python3.11/site-packages && du -sk * | sort -rn | head -12 && "
    "du -sk /usr/lib/python3.11 /usr/lib/x86_64-linux-gnu /usr/bin /usr/share /var 2>/dev/null"
)


def lit_json(*args: str, timeout: float = 7200) -> tuple[dict[str, Any], float]:
    """`python -m lit ARGS --json` with this checkout's lit: the object it printed and the wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "lit", *args, "--json"], capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - t0
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise RuntimeError(f"`lit {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr.strip()[-3000:]}")
    return doc, seconds


def example(name: str, dest: Path, function: str, engine: str | None = None) -> Path:
    """A copy of images/NAME under another function name (no clash with the user's own images),
    served by `engine` when given. Its model must be trained (images/NAME/train.py)."""
    src = ROOT / "images" / name
    if not (src / "model").is_dir():
        raise SystemExit(f"{src}/model is missing: train the example first ({src}/train*.py)")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".lit"))
    toml = dest / "lit.toml"
    text = toml.read_text().replace(f'name = "{name}"', f'name = "{function}"', 1)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("engine ="))
    if engine is not None:
        text = text.replace("[model]\n", f'[model]\nengine = "{engine}"\n', 1)
    toml.write_text(text + "\n")
    return dest


def build(docker: Docker, project: Path, built: list[tuple[str, str]]) -> dict[str, Any]:
    """`lit build` the project; its image's size (inspect) and its base's."""
    doc, wall = lit_json("build", str(project))
    name = doc["image"].split(":")[0].removeprefix("lit-")
    built.append((doc["image"], name))
    info = docker.image(doc["image"]) or {}
    engine = info.get("Config", {}).get("Labels", {}).get("lit.engine", "mxnet")
    base_info = docker.image(base.default_tag(engine)) or {}
    print(f"built {doc['image']}: {info.get('Size', 0) / 1e6:.1f} MB in {wall:.0f} s", flush=True)
    return {
        "image": doc["image"],
        "engine": engine,
        "size_mb": round(info.get("Size", 0) / 1e6, 1),
        "base": base.default_tag(engine),
        "base_mb": round(base_info.get("Size", 0) / 1e6, 1),
    }


def cleanup(docker: Docker, built: list[tuple[str, str]]) -> None:
    """The function images, and the build stages LIT kept for them (lit-cache:PROJECT-STAGE)."""
    for image, project in built:
        docker.remove_image(image)
        cache.remove(docker, cache.listing(docker, project))


def holdings(docker: Docker, image: str) -> list[tuple[str, float]]:
    proc = docker.run_once(RunSpec(image, ("-c", DU), entrypoint="sh", network="none"))
    rows = [line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line]
    return [(path, round(int(kb) / 1024, 1)) for kb, path in rows]


def target(name: str, value: float | None, limit: float) -> dict[str, Any]:
    return {"name": name, "value": value, "target": f"<= {limit:g}", "met": value is not None and value <= limit}


def ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the function images")
    args = parser.parse_args()
    docker = Docker()
    docker.ping()
    built: list[tuple[str, str]] = []
    images: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lit-bench-sizes-") as tmp:
        root = Path(tmp)
        try:
            images["text-topics"] = build(docker, example("text-topics", root / "topics", "bench-size-topics"), built)
            images["digits-mxnet"] = build(docker, example("digits", root / "dmx", "bench-size-digits-mx"), built)
            ort_digits = example("digits", root / "dort", "bench-size-digits-ort", "onnxruntime")
            images["digits-onnxruntime"] = build(docker, ort_digits, built)
            import engines  # ResNet-50 (random weights, seeded) as two projects: mxnet, onnxruntime

            for engine, project in engines.make_projects(root / "r50").items():
                images[f"resnet50-{engine}"] = build(docker, project, built)
            base_holds = holdings(docker, base.default_tag("onnxruntime"))
        finally:
            if not args.keep:
                cleanup(docker, built)
    targets = [
        target("text-topics image MB", images["text-topics"]["size_mb"], 300),
        target(
            "ResNet-50 image ORT / MXNet",
            ratio(images["resnet50-onnxruntime"]["size_mb"], images["resnet50-mxnet"]["size_mb"]),
            0.6,
        ),
        target(
            "digits image ORT / MXNet",
            ratio(images["digits-onnxruntime"]["size_mb"], images["digits-mxnet"]["size_mb"]),
            0.6,
        ),
    ]
    report = {"images": images, "onnxruntime_base_holds_mb": base_holds, "targets": targets}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "sizes.json").write_text(json.dumps(report, indent=2))
    print(f"\n{'image':<22}{'engine':>12}{'MB':>9}{'base MB':>10}")
    for name, row in images.items():
        print(f"{name:<22}{row['engine']:>12}{row['size_mb']:>9.1f}{row['base_mb']:>10.1f}")
    print(f"\n{base.default_tag('onnxruntime')} holds (MB):")
    for path, mb in base_holds:
        print(f"  {mb:>7.1f}  {path}")
    print()
    for t in targets:
        print(f"{'met    ' if t['met'] else 'NOT met'}  {t['name']}: {t['value']} (target {t['target']})")
    print(f"\nwrote {out / 'sizes.json'}")


if __name__ == "__main__":
    main()
