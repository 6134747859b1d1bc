"""`lit model push`: upload a model directory to the model bucket, with its manifest and digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import LitError

MANIFEST = "lit-manifest.json"


@dataclass(frozen=True)
class Pushed:
    url: str
    sha256: str
    files: dict[str, dict[str, object]]
    pushed: bool = True  # False: this very model was there already


def manifest(model_dir: Path) -> bytes:
    files = {}
    for path in sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name == MANIFEST:
            continue
        data = path.read_bytes()
        files[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if not files:
        raise LitError(f"{model_dir} holds no model files", "point at the directory with NAME-symbol.json and params")
    return json.dumps({"files": files}, indent=1, sort_keys=True).encode()


def split(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise LitError(f"{url!r} is not an s3://bucket/prefix URL", "e.g. s3://my-models/digits/v1")
    return parsed.netloc, parsed.path.strip("/")


def push(s3: Any, model_dir: Path, url: str, force: bool = False, pinned: Any = None) -> Pushed:
    """Upload the model's files, then its manifest. A URL that already holds another model is
    refused (functions pinned to it would fail at their next cold start) unless `force`;
    `pinned(sha256)` names the deployed functions that pin a manifest, when it can tell."""
    bucket, prefix = split(url)
    body = manifest(model_dir)
    sha = hashlib.sha256(body).hexdigest()
    files = json.loads(body)["files"]
    where = f"s3://{bucket}/{prefix}".rstrip("/")
    key = f"{prefix}/{MANIFEST}" if prefix else MANIFEST
    old = s3.get(bucket, key)
    if old is not None and hashlib.sha256(old).hexdigest() == sha:
        return Pushed(where, sha, files, pushed=False)  # this very model is there already
    if old is not None and not force:
        held = hashlib.sha256(old).hexdigest()
        users = pinned(held) if pinned else []
        who = f"deployed functions pin it: {', '.join(users)}" if users else "no deployed function here pins it"
        raise LitError(
            f"{where} already holds another model (manifest sha256 {held}; {who}). Replacing its files would break "
            "every function pinned to it at its next cold start, and readers could see the old manifest with new files",
            f"push to a new prefix (e.g. {where.rsplit('/', 1)[0]}/v2), or pass --force to replace it",
        )
    for name in files:
        s3.put(bucket, f"{prefix}/{name}" if prefix else name, (model_dir / name).read_bytes())
    # the manifest last: a reader that sees it finds every file it names
    s3.put(bucket, key, body, "application/json")
    return Pushed(where, sha, files)


@dataclass(frozen=True)
class Listed:
    url: str
    sha256: str
    files: int
    bytes: int
    pinned_by: list[str]


def listing(s3: Any, url: str, pinned: Any = None) -> list[Listed]:
    """The models pushed under an s3:// prefix: each manifest's URL and sha256, its files and their
    size, and (with `pinned`) the deployed functions that pin it."""
    bucket, prefix = split(url)
    found = []
    for obj in s3.keys(bucket, prefix):
        key = str(obj["Key"])
        if key != MANIFEST and not key.endswith("/" + MANIFEST):
            continue
        body = s3.get(bucket, key) or b""
        sha = hashlib.sha256(body).hexdigest()
        try:
            files = json.loads(body)["files"]
            total = sum(int(m.get("size", 0)) for m in files.values())
        except (ValueError, KeyError, TypeError, AttributeError):
            files, total = {}, 0
        where = f"s3://{bucket}/{key.removesuffix(MANIFEST).rstrip('/')}".rstrip("/")
        found.append(Listed(where, sha, len(files), total, pinned(sha) if pinned else []))
    return found


def model_dir_of(path: Path) -> Path:
    """A model directory, given either it or a project whose lit.toml names a local model."""
    if (path / "lit.toml").is_file():
        from . import project

        proj = project.load(path)
        if proj.model_path is None:
            raise LitError(
                f"{path}/lit.toml already points at a model bucket", "pass the local model directory instead"
            )
        return proj.model_path
    if not path.is_dir():
        raise LitError(f"{path} is not a directory", "pass a model directory or a project directory")
    return path
