"""`lit cache`: the build stages LIT keeps as cache, named and shown.

A build's throwaway stages (a function's extra requirements, a model converted, exported or
optimised; a base's build stage with its OS packages and pip installs) are what make the next build
take seconds. The engine keeps them as images of their own; LIT tags each `lit-cache:PROJECT-STAGE`
(a base's: `lit-cache:base-ENGINE`), with `-arm64` for arm64 ones, so that `docker images` says what
they are, and a rebuild moves the tag to its own stage, leaving the old one to be pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import arch, progress
from .docker import Docker
from .errors import LitError

REPOSITORY = "lit-cache"
FUNCTION = "function-build"  # the lit.stage label of a function's stages
BASE = "base-build"  # ... and of a base's
WHAT = {
    "deps": "the extra requirements, installed with pip",
    "convert": "the ONNX model converted for MXNet",
    "export": "the MXNet model exported to ONNX",
    "optimize": "the ONNX graph optimised by ONNX Runtime",
    "build": "OS packages and pip installs",
}


def function_tag(project: str, stage: str, architecture: str) -> str:
    return f"{REPOSITORY}:{project}-{stage}{_suffix(architecture)}"


def base_tag(engine: str, architecture: str) -> str:
    return f"{REPOSITORY}:base-{engine}{_suffix(architecture)}"


def _suffix(architecture: str) -> str:
    return "" if architecture == "x86_64" else f"-{architecture}"


@dataclass(frozen=True)
class Cache:
    image: str  # lit-cache:TAG ("" for a stage an earlier LIT left untagged)
    id: str
    kind: str  # function-build | base-build
    project: str  # the function's ("" for a base's)
    engine: str
    stage: str  # deps, convert, export, optimize; build for a base ("" when untagged)
    architecture: str
    size: int  # bytes, the layers it starts from included (as `docker images` shows)
    unique_size: int  # bytes only it holds: what removing it frees
    created: str
    what: str


def listing(docker: Docker, project: str | None = None) -> list[Cache]:
    """The caches of one function project (by name), or with None every cache LIT keeps."""
    docker.ensure()
    labels = (f"lit.stage={FUNCTION}", f"lit.project={project}") if project else ("lit.stage",)
    found = docker.labelled(*labels)
    unique = docker.unique_sizes() if found else {}
    caches = [_cache(info, unique) for info in found]
    return sorted(caches, key=lambda c: (c.kind != BASE, c.project, c.stage, c.architecture, c.created))


def _cache(info: dict[str, Any], unique: dict[str, int]) -> Cache:
    labels = (info.get("Config") or {}).get("Labels") or {}
    kind, project, engine = labels.get("lit.stage", ""), labels.get("lit.project", ""), labels.get("lit.engine", "")
    architecture = arch.of_image(info)
    tags = [t for t in info.get("RepoTags") or [] if t.startswith(f"{REPOSITORY}:")]
    image = tags[0] if tags else ""
    stage = ""
    if kind == BASE:
        stage = "build"
    elif image:
        stage = image.split(":", 1)[1].removeprefix(f"{project}-").removesuffix(_suffix(architecture))
    if kind == BASE:
        what = f"the {engine or 'mxnet'} base's build stage: {WHAT['build']}"
    elif stage:
        what = f"{project}'s {stage} stage: {WHAT.get(stage, 'a build stage')}"
    else:
        what = f"a build stage of {project or 'a function'} an earlier LIT left untagged"
    image_id = str(info.get("Id", ""))
    return Cache(
        image,
        image_id,
        kind,
        project,
        engine,
        stage,
        architecture,
        int(info.get("Size", 0)),
        unique.get(image_id, int(info.get("Size", 0))),
        str(info.get("Created", ""))[:19],
        what,
    )


def remove(docker: Docker, caches: list[Cache]) -> list[Cache]:
    """Remove each cache (its lit-cache tag, then the image once no other tag holds it); the ones
    removed. One an engine keeps (a container runs it, another tag names it) fails the command."""
    removed, kept = [], []
    for c in caches:
        if c.image:
            docker.remove_image(c.image)
        docker.remove_if_untagged(c.id)
        if docker.image(c.id) is None:
            removed.append(c)
        else:
            kept.append(c)
    if kept:
        names = ", ".join(f"{c.image or c.id.removeprefix('sha256:')[:12]}" for c in kept)
        raise LitError(
            f"{len(kept)} cache(s) could not be removed: {names} (a container uses it, or another tag names it)",
            "remove the containers (`docker ps -a --filter ancestor=ID`) or tags that hold it, then `lit cache rm` again",
        )
    return removed


def text(caches: list[Cache], scope: str) -> str:
    if not caches:
        return f"no caches of {scope}"
    lines = [f"{'image':<40} {'id':<12} {'size':>9} {'frees':>9}  what"]  # (size: with the base under it)
    for c in caches:
        name = c.image or "<none>"
        lines.append(
            f"{name:<40} {c.id.removeprefix('sha256:')[:12]:<12} {progress.human(c.size):>9} "
            f"{progress.human(c.unique_size):>9}  "
            f"{c.what} ({c.architecture}, {c.created.replace('T', ' ')})"
        )
    total = sum(c.unique_size for c in caches)
    lines.append(f"{len(caches)} cache(s) of {scope}; `lit cache rm` frees about {progress.human(total)}")
    return "\n".join(lines)
