"""`lit model push`: upload a model directory to the model bucket, with its manifest and digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import LitError

MANIFEST = "lit-manifest.json"


@dataclass(frozen=True)
class Pushed:
    url: str
    sha256: str
    files: dict[str, dict[str, object]]


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


def push(s3: object, model_dir: Path, url: str) -> Pushed:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise LitError(f"{url!r} is not an s3://bucket/prefix URL", "e.g. s3://my-models/digits/v1")
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    body = manifest(model_dir)
    files = json.loads(body)["files"]
    for name in files:
        s3.put(bucket, f"{prefix}/{name}" if prefix else name, (model_dir / name).read_bytes())  # type: ignore[attr-defined]
    # the manifest last: a reader that sees it finds every file it names
    s3.put(bucket, f"{prefix}/{MANIFEST}" if prefix else MANIFEST, body, "application/json")  # type: ignore[attr-defined]
    return Pushed(f"s3://{bucket}/{prefix}".rstrip("/"), hashlib.sha256(body).hexdigest(), files)


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
