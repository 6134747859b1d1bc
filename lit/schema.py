"""`lit schema DIR`: the function's contract, as the built image serves it (its lit.json and its graph),
printed by the runtime's own contract module (runtime/lit_runtime/contract.py) run inside the image."""

from __future__ import annotations

import json
from typing import Any

from . import build, runtime_config
from .docker import Docker
from .errors import LitError
from .project import Project


def contract(docker: Docker, project: Project, image: str | None = None, openapi: bool = False) -> dict[str, Any]:
    ref, info = build.built_image(docker, project, image)
    if runtime_config.stale(project, info):
        raise LitError(
            f"{ref} was built from another lit.toml than {project.root}'s: its contract would not be this project's",
            f"rebuild it with `lit build {project.root}`",
        )
    proc = build.run_module(docker, ref, project, "lit_runtime.contract", *(("--openapi",) if openapi else ()))
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
