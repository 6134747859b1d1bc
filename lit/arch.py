"""Lambda's two architectures, and running the one this machine is not under emulation.

Lambda names them x86_64 and arm64; Docker names the same platforms linux/amd64 and linux/arm64.
An image of the other architecture runs here through QEMU user emulation, registered with the
kernel's binfmt_misc (with the F flag, so that the interpreter works inside containers).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from .errors import EngineError

ARCHES = ("x86_64", "arm64")
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
DEBIAN = {"x86_64": "amd64", "arm64": "arm64"}  # Debian's (and mmdebstrap's) names
_NAMES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
_QEMU = {"x86_64": "qemu-x86_64", "arm64": "qemu-aarch64"}
EMULATION_NOTE = (
    "runs under emulation (QEMU) on this {host} machine: it answers as on Lambda, but its timings say "
    "nothing about Lambda's {arch} (emulated code runs many times slower)"
)


def host() -> str:
    """This machine's architecture, in Lambda's name."""
    return _NAMES.get(platform.machine().lower(), platform.machine().lower())


def name(docker_arch: str) -> str:
    """Lambda's name for an architecture as Docker or uname says it (amd64, aarch64, ...)."""
    return _NAMES.get(docker_arch, docker_arch)


def of_image(info: dict[str, Any]) -> str:
    """The architecture an image's config records (`docker image inspect`), in Lambda's name."""
    return name(str(info.get("Architecture", "")))


def emulated(arch: str) -> bool:
    return arch != host()


def emulation_problem(arch: str, root: Path = BINFMT) -> str | None:
    """Why an `arch` container cannot run here, or None when it can (natively or emulated)."""
    if not emulated(arch):
        return None
    entry = root / _QEMU[arch]
    if not root.is_dir() or not (root / "status").exists():
        return "binfmt_misc is not mounted, so the kernel cannot hand foreign binaries to QEMU"
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        return f"no QEMU interpreter for {arch} is registered with binfmt_misc ({entry} is missing)"
    if "enabled" not in lines[:1]:
        return f"the QEMU interpreter for {arch} is registered but disabled ({entry})"
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    if "F" not in flags:
        return f"the QEMU interpreter for {arch} lacks binfmt's F flag, so it cannot run inside containers"
    return None


def emulation_fix(arch: str) -> str:
    return (
        f"apt-get install qemu-user-static binfmt-support (Debian), then `update-binfmts --enable {_QEMU[arch]}` "
        "(mount binfmt_misc first if needed: `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc`); "
        f"or build on a {arch} machine"
    )


def require_emulation(arch: str) -> None:
    """Raise, naming the fix, when an `arch` container cannot run on this machine."""
    if (problem := emulation_problem(arch)) is not None:
        raise EngineError(f"cannot run {arch} containers on this {host()} machine: {problem}", emulation_fix(arch))


def note(arch: str) -> str | None:
    """The warning owed when `arch` runs emulated here, or None."""
    return EMULATION_NOTE.format(host=host(), arch=arch) if emulated(arch) else None
