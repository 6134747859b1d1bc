"""Benchmark: what serving a model through its old server's handler costs, against LIT's own hooks.

    .venv/bin/python benchmarks/migrate.py [--rounds 3] [--warm 200]

The digits model two ways, on the MXNet base, in the same run: images/digits as LIT serves it, and
the same checkpoint packed by `model-archiver` with Model Server's own image service (the .mar of
tests/e2e/test_migrate_mar.py), made a project by `lit init --from digits.mar`. Each is built, then
`lit bench` measures it at 1,024 MB with the same held-out PNG: image size, cold start (container
start to first answer), warm p50 and p99. Each round benches both; the ratios (archive / native) are
reported as min-max over the rounds. Needs `bash scripts/mms.sh` (model-archiver) and the trained
digits example. Writes benchmarks/results/migrate.json and removes its images.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sizes import build, cleanup, example, lit_json  # noqa: E402

from lit.docker import Docker  # noqa: E402
from tests.fixtures.mar import pack_mms_digits  # noqa: E402

MEMORY = 1024


def bench(project: Path, event: Path, warm: int) -> dict[str, float]:
    doc, _ = lit_json(
        "bench", str(project), "--memory", str(MEMORY), "--cold", "3", "--warm", str(warm), "--event", str(event)
    )
    (result,) = doc["results"]
    if result["error"]:
        raise RuntimeError(f"{project.name}: {result['error']}")
    return {
        "cold_ms": result["cold"]["container_start_ms"] + result["cold"]["first_answer_ms"],
        "init_ms": result["cold"]["init_ms"],
        "warm_p50_ms": result["warm_p50_ms"],
        "warm_p99_ms": result["warm_p99_ms"],
        "max_memory_mb": result["max_memory_mb"],
    }


def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=200)
    args = parser.parse_args()
    docker = Docker()
    built: list[tuple[str, str]] = []
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="lit-migrate-") as tmp:
        work = Path(tmp)
        native = example("digits", work / "native", "bench-native")
        mar = pack_mms_digits(ROOT / "images" / "digits" / "model", work)
        lit_json("init", str(work / "archive"), "--from", str(mar), "--name", "bench-archive")
        event = work / "event.json"
        png = sorted((ROOT / "images" / "digits" / "heldout").glob("*.png"))[0]
        event.write_text(json.dumps({"image": base64.b64encode(png.read_bytes()).decode()}))
        try:
            sizes = {"native": build(docker, native, built), "archive": build(docker, work / "archive", built)}
            for n in range(args.rounds):
                rounds.append({name: bench(work / name, event, args.warm) for name in ("native", "archive")})
                print(f"round {n + 1}: {json.dumps(rounds[-1])}", flush=True)
        finally:
            cleanup(docker, built)
            shutil.rmtree(work / "archive", ignore_errors=True)
    ratios = {
        key: [r["archive"][key] / r["native"][key] for r in rounds]
        for key in ("cold_ms", "init_ms", "warm_p50_ms", "warm_p99_ms")
    }
    summary: dict[str, Any] = {
        "memory_mb": MEMORY,
        "size_mb": {name: s["size_mb"] for name, s in sizes.items()},
        "rounds": rounds,
        "archive_over_native": {key: [round(min(v), 3), round(max(v), 3)] for key, v in ratios.items()},
    }
    out = ROOT / "benchmarks" / "results" / "migrate.json"
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"image size: native {sizes['native']['size_mb']} MB, archive {sizes['archive']['size_mb']} MB")
    for key, values in ratios.items():
        print(f"{key}: archive / native {span(values)} over {len(values)} rounds")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
