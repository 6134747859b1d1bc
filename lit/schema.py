"""`lit schema DIR`: the function's contract, as the built image serves it (its lit.json and its graph),
printed by the runtime's own contract module (runtime/lit_runtime/contract.py) run inside the image."""

from __future__ import annotations

import json
from typing import Any

from . import arch, build, runtime_config
from .docker import Docker, RunSpec
from .errors import LitError
from .project import Project


def contract(docker: Docker, project: Project, image: str | None = None, openapi: bool = False) -> dict[str, Any]:
    ref, info = build.built_image(docker, project, image)
    if runtime_config.stale(project, info):
        raise LitError(
            f"{ref} was built from another lit.toml than {project.root}'s: its contract would not be this project's",
            f"rebuild it with `lit build {project.root}`",
        )
    architecture = project.function.architecture
    spec = RunSpec(
        ref,
        ("-m", "lit_runtime.contract", *(("--openapi",) if openapi else ())),
        platform=arch.PLATFORMS[architecture],
        network="none",
        entrypoint="/opt/lit/bin/python",
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(project.function.memory), "LIT_CHECK_OFFLINE": "1"},
        memory_mb=project.function.memory,
    )
    proc = docker.run_once(spec, timeout=1800 if arch.emulated(architecture) else 300)
    if proc.returncode != 0:
        said = [
            line.removeprefix("lit-schema: ") for line in proc.stderr.splitlines() if line.startswith("lit-schema: ")
        ]
        if not said and "No module named lit_runtime.contract" in proc.stderr:
            said = ["its runtime is older than this lit and has no contract"]
        raise LitError(
            f"{ref} could not state its contract: {said[-1] if said else proc.stderr.strip()[-500:]}",
            f"rebuild the image with `lit build {project.root}`",
        )
    try:
        doc: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        raise LitError(f"{ref} printed no contract: {proc.stdout[:200]!r}", "rebuild it with `lit build`") from None
    return doc
