"""The model bucket: fetch a model from S3 or HTTP(S) at cold start, verified, cached in /tmp.

A pushed model is its files plus lit-manifest.json ({"files": {name: {"sha256", "size"}}});
lit.toml pins the manifest's sha256, so one digest verifies every file. The verified copy lives
under /tmp (LIT_MODEL_CACHE), so a new process in a warm sandbox never fetches twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from .errors import ModelError

MANIFEST = "lit-manifest.json"


def _get(url: str) -> bytes:
    if url.startswith("s3://"):
        from .s3 import S3, S3Error, parse_url

        try:
            return S3().get(*parse_url(url))
        except S3Error as exc:
            raise ModelError(f"fetching the model: {exc}") from None
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"fetching the model: GET {url}: {exc}") from None


def cache_root() -> Path:
    return Path(os.environ.get("LIT_MODEL_CACHE", "/tmp/lit-models"))


def fetch(url: str, sha256: str) -> Path:
    """The verified local directory of the model at url (fetched unless already cached)."""
    base = url.rstrip("/")
    target = cache_root() / sha256
    if (target / ".verified").is_file():
        return target
    manifest_bytes = _get(f"{base}/{MANIFEST}")
    got = hashlib.sha256(manifest_bytes).hexdigest()
    if got != sha256:
        raise ModelError(
            f"{base}/{MANIFEST} has sha256 {got}, lit.toml expects {sha256}: the model changed since it was pinned "
            "(push it again with `lit model push` and put the new digest in lit.toml)"
        )
    files = json.loads(manifest_bytes)["files"]
    partial = target.with_name(f"{sha256}.part-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        for name, meta in files.items():
            if "/" in name or name.startswith("."):
                raise ModelError(f"{MANIFEST} names an unsafe file {name!r}")
            data = _get(f"{base}/{name}")
            digest = hashlib.sha256(data).hexdigest()
            if digest != meta["sha256"]:
                raise ModelError(f"{base}/{name} has sha256 {digest}, its manifest says {meta['sha256']}")
            (partial / name).write_bytes(data)
        (partial / ".verified").write_text(sha256)
        try:
            partial.rename(target)
        except OSError:  # another process got there first; its copy is as good as ours
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target
