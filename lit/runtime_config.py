"""The configuration the runtime reads inside the image: lit.toml as `lit.project` validated it,
every value explicit and every path as the image lays it out.

`lit build` writes it to /var/task/lit.json; runtime/lit_runtime/settings.py reads that file and
nothing else. lit.toml is parsed once, here, so the CLI and the runtime cannot disagree about a
default or a path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .project import CONFIG, Project

FILE = "lit.json"  # in the task root, beside the function's code
SCHEMA = 3  # runtime/lit_runtime/settings.py reads this version
LABEL = "lit.config"  # the image label carrying the digest of the lit.json it holds


def document(project: Project) -> dict[str, Any]:
    image = project.image
    return {
        "schema": SCHEMA,
        "name": project.name,
        "model": {
            "engine": project.engine,
            "input": project.input_kind,
            "task": project.task,
            "epoch": project.epoch,
            "top_k": project.top_k,
            "labels": labels(project),
            "url": project.model_url,
            "sha256": project.sha256,
            "input_shape": list(project.input_shape),
        },
        "image": {
            "size": list(image.size),
            "color": image.color,
            "scale": image.scale,
            "mean": list(image.mean),
            "std": list(image.std),
            "max_pixels": image.max_pixels,
        },
        "text": None
        if project.text is None
        else {
            "tokenizer": tokenizer(project),
            "max_length": project.text.max_length,
            "padding": project.text.padding,
            "truncation": project.text.truncation,
        },
        "output": {"s3": project.output_s3},
        "embed": {
            "pooling": project.embed.pooling,
            "normalize": project.embed.normalize,
            "output": project.embed.output,
        },
        "detect": {
            "score_threshold": project.detect.score_threshold,
            "iou_threshold": project.detect.iou_threshold,
            "max_detections": project.detect.max_detections,
        },
        "adapter": None
        if project.adapter is None
        else {
            "kind": project.adapter.kind,
            "handler": project.adapter.handler,
            "code": where(project, project.adapter.code, "[adapter] code"),
            "writable_model": project.adapter.writable_model,
        },
    }


def digest(project: Project) -> str:
    """What the image's LABEL records: a changed lit.toml (or labels file) that the image does not
    carry yet shows as a different digest (a [function] setting, applied at deploy, does not)."""
    canonical = json.dumps(document(project), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def stale(project: Project, info: dict[str, Any]) -> bool:
    """Whether the image (its inspect data) was built from another configuration than the
    project's now. An image without the label (built by hand) is not judged."""
    built = ((info.get("Config") or {}).get("Labels") or {}).get(LABEL)
    return built is not None and built != digest(project)


def write(project: Project, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(document(project), indent=2) + "\n")
    return dest


def labels(project: Project) -> list[str]:
    """The labels file's lines, blank ones left out: carried in the config, so the image's copy of
    the file (or its absence) cannot change an answer."""
    if project.labels is None:
        return []
    return [line.strip() for line in project.labels.read_text().splitlines() if line.strip()]


def tokenizer(project: Project) -> dict[str, str] | None:
    """Where the image holds the tokenizer: under the model directory (/var/task/model), or under
    the task root (the project's other files). None: tokenizer.json beside a model-bucket model."""
    assert project.text is not None
    path = project.text.tokenizer
    return None if path is None else where(project, path, "[text] tokenizer")


def where(project: Project, path: Path, what: str) -> dict[str, str]:
    """Where the image holds a project path: under the model directory (/var/task/model), or under
    the task root (the project's other files)."""
    model = project.model_path
    if model is not None and model.is_dir() and path.is_relative_to(model):
        return {"in": "model", "path": path.relative_to(model).as_posix()}
    if path.is_relative_to(project.root):
        return {"in": "task", "path": path.relative_to(project.root).as_posix()}
    raise ConfigError(
        f"{project.root / CONFIG}: {what} {path} is outside the project, so the image would not carry it",
        f"copy it into the project (or the model directory) and point {what} at it",
    )
