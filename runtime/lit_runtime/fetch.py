"""The model bucket: fetch a model from S3 or HTTP(S) at cold start, verified, cached in /tmp.

A pushed model is its files plus lit-manifest.json ({"files": {name: {"sha256", "size"}}});
lit.toml pins the manifest's sha256, so one digest verifies every file. The verified copy lives
under /tmp (LIT_MODEL_CACHE), so a new process in a warm sandbox never fetches twice.

Each file streams to /tmp and is hashed as it comes: it is never held whole in memory, and its
download stops at the first byte over the size its manifest gives. Throttling, 5xx answers and
broken connections are retried with jittered exponential backoff (as S3's guidance asks), all
within one deadline for the whole fetch (DEADLINE_S, or LIT_FETCH_DEADLINE seconds), which keeps a
fetch inside Lambda's 10 s init. Every failure is a ModelError naming the object and the cause.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
import shutil
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from .errors import ModelError

MANIFEST = "lit-manifest.json"
MANIFEST_MAX = 1024 * 1024  # a manifest is a few hundred bytes per file
DEADLINE_S = 9.0  # the whole fetch; Lambda's init phase is 10 s
CHUNK = 1024 * 1024
ATTEMPTS = 5
BACKOFF_S = (0.1, 2.0)  # base and cap of the jittered backoff
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Retry(Exception):
    """A failure worth another try (throttling, a 5xx answer, a broken or slow connection)."""


class Fetch:
    """One model's fetch, against one deadline."""

    def __init__(self, base: str, deadline: float | None = None, sleep: Any = time.sleep) -> None:
        self.base = base
        seconds = deadline if deadline is not None else float(os.environ.get("LIT_FETCH_DEADLINE", DEADLINE_S))
        self.seconds = seconds
        self.until = time.monotonic() + seconds
        self.sleep = sleep

    def left(self, what: str) -> float:
        left = self.until - time.monotonic()
        if left <= 0:
            raise ModelError(
                f"fetching the model from {self.base} took over {self.seconds:g} s (at {what}); Lambda's init phase "
                "is 10 s. Bake the model into the image (a local [model] path), or raise LIT_FETCH_DEADLINE for "
                "functions whose init may run longer (provisioned concurrency, SnapStart)"
            )
        return left

    def read(self, name: str, dest: Path | None, size: int, sha256: str | None) -> bytes:
        """The object `name` (at most `size` bytes): streamed into `dest` and checked against `sha256`
        when given, else returned. Retried as S3 asks, within the deadline."""
        url = f"{self.base}/{name}"
        for attempt in range(ATTEMPTS):
            try:
                return self._once(url, dest, size, sha256)
            except _Retry as exc:
                if attempt == ATTEMPTS - 1:
                    raise ModelError(f"fetching {url}: {exc} ({ATTEMPTS} tries)") from None
                pause = random.uniform(0, min(BACKOFF_S[1], BACKOFF_S[0] * 2**attempt))
                self.sleep(min(pause, max(self.left(url) - 0.5, 0)))
        raise AssertionError("unreachable")

    def _once(self, url: str, dest: Path | None, size: int, sha256: str | None) -> bytes:
        digest, got, kept = hashlib.sha256(), 0, bytearray()
        with _open(url, min(self.left(url), 10.0)) as resp, open(dest, "wb") if dest else nullcontext() as out:
            length = resp.headers.get("Content-Length")
            if sha256 is not None and length is not None and length.isdigit() and int(length) != size:
                raise ModelError(
                    f"{url} is {int(length):,} bytes, its manifest says {size:,}: it changed since it was pushed "
                    "(none of it was downloaded)"
                )
            while True:
                self.left(url)
                try:
                    chunk = resp.read1(CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # reset, timeout, IncompleteRead
                    raise _Retry(f"the connection broke after {got} bytes: {type(exc).__name__}: {exc}") from None
                if not chunk:
                    break
                got += len(chunk)
                if got > size:
                    said = "its manifest gives" if sha256 else "a manifest may take"
                    raise ModelError(
                        f"{url} is larger than the {size} bytes {said}: the download was stopped at "
                        f"{got} bytes (the object changed since it was pushed, or it is not what LIT pushed)"
                    )
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
                else:
                    kept += chunk
        if length is not None and length.isdigit() and got < int(length):  # the connection closed early
            raise _Retry(f"the body ended at {got:,} of its {int(length):,} bytes")
        if got < size and sha256 is not None:
            raise ModelError(f"{url} is {got:,} bytes, its manifest says {size:,}: it changed since it was pushed")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ModelError(f"{url} has sha256 {digest.hexdigest()}, its manifest says {sha256}")
        return bytes(kept)


def _open(url: str, timeout: float) -> Any:
    """The object's response, open for streaming; a failure worth another try raises _Retry."""
    if url.startswith("s3://"):
        from .s3 import S3, S3Error, parse_url

        try:
            return S3(timeout=timeout).open(*parse_url(url))
        except S3Error as exc:
            if exc.status in (429, 500, 502, 503, 504) or exc.code in ("SlowDown", "Throttling", "RequestTimeout"):
                raise _Retry(str(exc)) from None
            if exc.status == 0:  # no answer: the connection failed
                raise _Retry(str(exc)) from None
            raise ModelError(f"fetching the model: {exc}") from None
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code in (429, 500, 502, 503, 504):
            raise _Retry(f"GET {url}: {exc.code} {exc.reason}") from None
        raise ModelError(f"fetching the model: GET {url}: {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Retry(f"GET {url}: {exc}") from None


def cache_root() -> Path:
    return Path(os.environ.get("LIT_MODEL_CACHE", "/tmp/lit-models"))


def files_of(manifest: bytes, where: str) -> dict[str, dict[str, Any]]:
    """The manifest's files, each with a safe name, a sha256 and a size; else a ModelError saying what is wrong."""
    try:
        files = json.loads(manifest)["files"]
    except (ValueError, KeyError, TypeError):
        raise ModelError(f'{where} is not a LIT manifest (JSON with a "files" table)') from None
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{where} names no files: push the model again with `lit model push`")
    for name, meta in files.items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") or not name:
            raise ModelError(f"{where} names an unsafe file {name!r}")
        if not isinstance(meta, dict) or not SHA256.match(str(meta.get("sha256", ""))):
            raise ModelError(f"{where}: file {name!r} has no sha256")
        if not isinstance(meta.get("size"), int) or isinstance(meta.get("size"), bool) or meta["size"] < 0:
            raise ModelError(f"{where}: file {name!r} has no size")
    return files


def fetch(url: str, sha256: str, deadline: float | None = None) -> Path:
    """The verified local directory of the model at url (fetched unless already cached)."""
    base = url.rstrip("/")
    target = cache_root() / sha256
    if (target / ".verified").is_file():
        return target
    job = Fetch(base, deadline)
    manifest = job.read(MANIFEST, None, MANIFEST_MAX, None)
    got = hashlib.sha256(manifest).hexdigest()
    if got != sha256:
        raise ModelError(
            f"{base}/{MANIFEST} has sha256 {got}, lit.toml expects {sha256}: the model changed since it was pinned "
            "(push it again with `lit model push` and put the new digest in lit.toml)"
        )
    files = files_of(manifest, f"{base}/{MANIFEST}")
    partial = target.with_name(f"{sha256}.part-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    need = sum(int(meta["size"]) for meta in files.values())
    free = shutil.disk_usage(partial).free
    if need > free:
        shutil.rmtree(partial, ignore_errors=True)
        raise ModelError(
            f"the model at {base} is {need:,} bytes and {partial.parent} has {free:,} free: raise [function] "
            "ephemeral_storage in lit.toml (up to 10,240 MB)"
        )
    try:
        for name, meta in files.items():
            job.read(name, partial / name, int(meta["size"]), str(meta["sha256"]))
        (partial / ".verified").write_text(sha256)
        try:
            partial.rename(target)
        except OSError:  # another process got there first; its copy is as good as ours
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target
