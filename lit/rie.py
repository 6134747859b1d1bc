"""Finding the Lambda Runtime Interface Emulator binary for an architecture.

In order: LIT_RIE (a path), the cache (~/.cache/lit), `aws-lambda-rie` on PATH, the GitHub
release page, and finally the aws-sam-cli wheel on the package index, which carries both
architectures' binaries (works where only the package index is reachable). A binary is taken
only when its ELF header names the architecture asked for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from .errors import LitError

RELEASE = "https://github.com/aws/aws-lambda-runtime-interface-emulator/releases/latest/download/"
_ASSET = {"x86_64": "aws-lambda-rie", "arm64": "aws-lambda-rie-arm64"}
_WHEEL_MEMBER = {
    "x86_64": "samcli/local/rapid/aws-lambda-rie-x86_64",
    "arm64": "samcli/local/rapid/aws-lambda-rie-arm64",
}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lit"


_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}  # the ELF header's e_machine: EM_X86_64, EM_AARCH64


def elf_arch(path: Path) -> str | None:
    """The architecture a 64-bit little-endian ELF executable is for, or None if it is none."""
    try:
        with path.open("rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(head[18:20], "little")
    return next((name for name, code in _MACHINE.items() if code == machine), f"machine {machine:#x}")


def _looks_like_elf(path: Path, arch: str) -> bool:
    try:
        return elf_arch(path) == arch and path.stat().st_size > 1_000_000
    except OSError:
        return False


def locate(arch: str = "x86_64") -> Path | None:
    """The emulator already on this machine (LIT_RIE, the cache, PATH), or None; never downloads."""
    if env := os.environ.get("LIT_RIE"):
        path = Path(env)
        if elf_arch(path) is None:
            raise LitError(f"LIT_RIE={env} is not an emulator binary", "point LIT_RIE at aws-lambda-rie, or unset it")
        if _looks_like_elf(path, arch):
            return path  # (one for another architecture: the other places are looked in)
    cached = cache_dir() / f"aws-lambda-rie-{arch}"
    if _looks_like_elf(cached, arch):
        return cached
    on_path = shutil.which("aws-lambda-rie")
    if on_path and _looks_like_elf(Path(on_path), arch):
        return Path(on_path)
    return None


def find(arch: str = "x86_64", log: Callable[[str], None] = lambda _: None) -> Path:
    if (found := locate(arch)) is not None:
        return found
    cached = cache_dir() / f"aws-lambda-rie-{arch}"
    cached.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for source, fetch in (("release page", _from_release), ("aws-sam-cli wheel", _from_wheel)):
        log(f"fetching the Lambda RIE ({arch}) from the {source}")
        try:
            fetch(arch, cached)
        except Exception as exc:  # network or packaging failure: try the next source
            errors.append(f"{source}: {exc}")
            continue
        if _looks_like_elf(cached, arch):
            cached.chmod(0o755)
            return cached
        errors.append(f"{source}: downloaded file is not an {arch} ELF binary")
    raise LitError(
        "could not find or download the Lambda Runtime Interface Emulator (" + "; ".join(errors) + ")",
        f"download aws-lambda-rie for {arch} by hand and set LIT_RIE to its path",
    )


def _from_release(arch: str, dest: Path) -> None:
    with (
        urllib.request.urlopen(RELEASE + _ASSET[arch], timeout=15) as resp,
        tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp,
    ):
        shutil.copyfileobj(resp, tmp)
    os.replace(tmp.name, dest)


def _from_wheel(arch: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "-d",
                tmp,
                "aws-sam-cli",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        wheel = next(Path(tmp).glob("aws_sam_cli-*.whl"))
        with zipfile.ZipFile(wheel) as zf, open(dest.with_suffix(".part"), "wb") as out:
            out.write(zf.read(_WHEEL_MEMBER[arch]))
        os.replace(dest.with_suffix(".part"), dest)
