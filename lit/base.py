"""`lit base build`: the base image every function image starts FROM.

The OS layer is either a public Python 3.11 image (pulled) or, where no registry answers, one
bootstrapped here from Debian's archive with mmdebstrap. The build context is assembled in a temp
dir from Dockerfile.base, the runtime package, the RIE and the host's CA bundle.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import arch, assets, cache, progress, rie
from .docker import Docker
from .errors import LitError

ENGINES = ("mxnet", "onnxruntime")
# The base each engine's functions start FROM (an environment variable names another).
BASE_TAGS = {"mxnet": "lit-base:py3.11", "onnxruntime": "lit-base:py3.11-onnxruntime"}
BASE_ENV = {"mxnet": "LIT_BASE_IMAGE", "onnxruntime": "LIT_BASE_IMAGE_ONNXRUNTIME"}
DEFAULT_FROM = "python:3.11-slim-bookworm"
BOOTSTRAP_TAG = "lit-os:bookworm"  # x86_64; other architectures' carry a suffix (lit-os:bookworm-arm64)
# What the bootstrapped OS holds: Python 3.11 with venv, CA roots, and the two libraries mxnet's
# wheel needs from the OS. usr-is-merged keeps usrmerge (and 47 MB of Perl) out.
BOOTSTRAP_PACKAGES = ("python3", "python3-venv", "ca-certificates", "libgomp1", "libquadmath0", "usr-is-merged")
CA_CANDIDATES = ("LIT_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class BaseResult:
    image: str
    engine: str
    architecture: str
    id: str
    os_image: str
    size: int
    seconds: float


def find_ca_bundle(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise LitError(
                f"CA bundle {explicit} does not exist", "pass a PEM file with --ca-bundle, or --no-ca-bundle"
            )
        return explicit
    for var in CA_CANDIDATES:
        if (value := os.environ.get(var)) and Path(value).is_file():
            return Path(value)
    return SYSTEM_CA if SYSTEM_CA.is_file() else None


def suffix(architecture: str) -> str:
    """What tells an architecture's tags apart: nothing for x86_64 (the tags LIT always had)."""
    return "" if architecture == "x86_64" else f"-{architecture}"


def os_layer(
    docker: Docker, from_image: str | None, bootstrap: bool, architecture: str, log: Callable[[str], None]
) -> str:
    """The OS image to build on: the one asked for, a pulled public image, or a bootstrapped one."""
    platform = arch.PLATFORMS[architecture]
    bootstrap_tag = BOOTSTRAP_TAG + suffix(architecture)
    if from_image:
        if docker.image(from_image) is None and not docker.pull(from_image, platform):
            raise LitError(
                f"OS image {from_image} is not local and could not be pulled",
                "pull or build it first, or drop --from to bootstrap one from Debian's archive",
            )
        if (found := arch.of_image(docker.image(from_image) or {})) != architecture:
            raise LitError(
                f"OS image {from_image} is {found}, not {architecture}",
                f"pass an {architecture} image (`docker pull --platform {platform} ...`), or drop --from",
            )
        return from_image
    if bootstrap:
        bootstrap_os(docker, bootstrap_tag, architecture, log)
        return bootstrap_tag
    for local in (DEFAULT_FROM, bootstrap_tag):
        info = docker.image(local)
        if info is not None and arch.of_image(info) == architecture:
            return local
    log(f"pulling {DEFAULT_FROM} ({platform})")
    if docker.pull(DEFAULT_FROM, platform) and arch.of_image(docker.image(DEFAULT_FROM) or {}) == architecture:
        return DEFAULT_FROM
    log(f"{DEFAULT_FROM} could not be pulled (no registry reachable?); bootstrapping the OS layer instead")
    bootstrap_os(docker, bootstrap_tag, architecture, log)
    return bootstrap_tag


def bootstrap_os(docker: Docker, tag: str, architecture: str, log: Callable[[str], None]) -> None:
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise LitError(
            "no OS image could be pulled and mmdebstrap is not installed to bootstrap one",
            "apt-get install mmdebstrap (or pass --from IMAGE with a local Debian-based Python 3.11 image)",
        )
    foreign = arch.emulated(architecture)
    if foreign:
        arch.require_emulation(architecture)
        if shutil.which("arch-test") is None:
            raise LitError(
                f"mmdebstrap needs arch-test to bootstrap a foreign ({architecture}) OS", "apt-get install arch-test"
            )
    took = "about 3 min: its package scripts run under emulation" if foreign else "about 30 s"
    log(f"bootstrapping {tag} from Debian's archive with mmdebstrap ({took})")
    # libquadmath exists (and mxnet's wheel needs it) on x86_64 only
    packages = [p for p in BOOTSTRAP_PACKAGES if architecture == "x86_64" or p != "libquadmath0"]
    cmd = [tool, "--variant=minbase", f"--arch={arch.DEBIAN[architecture]}", "--include=" + ",".join(packages)]
    with tempfile.TemporaryDirectory(prefix="lit-os-") as tmp, progress.task(log, f"bootstrapping {tag}"):
        ctx = Path(tmp)
        proc = subprocess.run([*cmd, "bookworm", str(ctx / "rootfs.tar")], capture_output=True, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
            raise LitError("mmdebstrap failed: " + " / ".join(tail), "check that Debian's archive is reachable")
        # Built, not `docker import`ed: an import records the engine's own architecture whatever
        # the files are, and Lambda refuses an arm64 function whose image says amd64.
        (ctx / "Dockerfile").write_text('FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nCMD ["/bin/bash"]\n')
        docker.build(ctx, tag, platform=arch.PLATFORMS[architecture])


def default_tag(engine: str = "mxnet", architecture: str = "x86_64") -> str:
    """The engine's base for an architecture: lit-base:py3.11[-onnxruntime][-arm64], or the one
    LIT_BASE_IMAGE[_ONNXRUNTIME][_ARM64] names."""
    variable = BASE_ENV[engine] + suffix(architecture).replace("-", "_").upper()
    return os.environ.get(variable) or BASE_TAGS[engine] + suffix(architecture)


DEFAULT_BASE = default_tag("mxnet")


def build(
    docker: Docker,
    tag: str | None = None,
    engine: str = "mxnet",
    architecture: str = "x86_64",
    from_image: str | None = None,
    bootstrap: bool = False,
    ca_bundle: Path | None = None,
    use_ca: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> BaseResult:
    if engine not in ENGINES:
        raise LitError(f"unknown engine {engine!r}", f"use one of: {', '.join(ENGINES)}")
    if architecture not in arch.ARCHES:
        raise LitError(f"unknown architecture {architecture!r}", f"use one of: {', '.join(arch.ARCHES)}")
    if engine == "onnxruntime" and arch.emulated(architecture):
        raise LitError(
            f"the onnxruntime base for {architecture} cannot be built on this {arch.host()} machine: ONNX Runtime's "
            f"{architecture} build does not run under QEMU user emulation (its import hangs or crashes, so the base's "
            "smoke test and the model optimisation of `lit build` cannot run)",
            f"build it on an {architecture} machine (`lit base build --engine onnxruntime --arch {architecture}` on a "
            f'Graviton instance), or serve the model with engine = "mxnet" on {architecture}',
        )
    tag = tag or default_tag(engine, architecture)
    docker.ensure()
    arch.require_emulation(architecture)
    start = time.monotonic()
    base_os = os_layer(docker, from_image, bootstrap, architecture, log)
    rie_path = rie.find(architecture, log)
    bundle = find_ca_bundle(ca_bundle) if use_ca else None
    with tempfile.TemporaryDirectory(prefix="lit-base-") as tmp:
        ctx = Path(tmp)
        shutil.copy(assets.path("Dockerfile.base"), ctx / "Dockerfile")
        shutil.copytree(
            assets.path("runtime"),
            ctx / "runtime",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"),
        )
        shutil.copy(rie_path, ctx / "aws-lambda-rie")
        (ctx / "ca-bundle.crt").write_bytes(bundle.read_bytes() if bundle else b"")
        emulated = " under emulation: pip and the smoke test run slowly" if arch.emulated(architecture) else ""
        log(
            f"building {tag} ({engine}, {architecture}) on {base_os}{emulated}"
            + (f" (pip trusts {bundle})" if bundle else "")
        )
        args = {"OS_IMAGE": base_os, "ENGINE": engine, "LIT_RUNTIME_DIGEST": runtime_digest()}
        replaced = (docker.image(tag) or {}).get("Id")
        seen: list[str] = []
        sweep(docker, engine, older_than=60)
        try:
            with progress.BuildSteps(log, f"building {tag}", docker.size) as steps:

                def keep(line: str) -> None:
                    seen.append(line)
                    steps(line)

                image_id = docker.build(ctx, tag, args, log=keep, platform=arch.PLATFORMS[architecture])
        except KeyboardInterrupt:
            sweep(docker, engine)
            raise _interrupted(docker, tag, replaced) from None
        finally:
            docker.prune_stages(
                (f"lit.stage={cache.BASE}", f"lit.engine={engine}"),
                seen,
                arch.PLATFORMS[architecture],
                name=lambda _: cache.base_tag(engine, architecture),
            )
    if replaced != image_id:
        docker.remove_if_untagged(replaced)
    info = docker.image(tag) or {}
    size = int(info.get("Size", 0))
    return BaseResult(tag, engine, architecture, image_id, base_os, size, round(time.monotonic() - start, 1))


def sweep(docker: Docker, engine: str, older_than: float = 0.0) -> list[str]:
    """Remove the engine's untagged base images (created over `older_than` seconds ago) that no image
    is built on: what an interrupted base build's engine committed as its client went, before it
    could tag it. (Function images carry the base's labels too, and lit.function; build stages
    carry lit.stage: neither is a base.) One that a function image is built on stays: the engine
    refuses to remove it."""
    removed = []
    now = time.time()
    for image_id in docker.dangling(f"lit.engine={engine}", "lit.runtime"):
        labels = (info := docker.image(image_id) or {}).get("Config", {}).get("Labels") or {}
        if "lit.function" in labels or "lit.stage" in labels:
            continue
        created = info.get("Created", "")[:19]
        if created and now - calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%S")) >= older_than:
            docker.remove_image(image_id)
            if docker.image(image_id) is None:
                removed.append(image_id)
    return removed


def _interrupted(docker: Docker, tag: str, replaced: str | None) -> LitError:
    """What a Ctrl-C during the base's docker build leaves: docker tags only a finished build."""
    now = (docker.image(tag) or {}).get("Id")
    if now and now != replaced:
        docker.remove_if_untagged(replaced)
        return LitError(f"interrupted as the build finished: {tag} is the new base", "nothing to do", exit_code=130)
    was = f"still {replaced.removeprefix('sha256:')[:12]}" if replaced else "not built yet"
    return LitError(
        f"interrupted: {tag} is unchanged ({was})",
        "run `lit base build` again (the layers already built are reused)",
        exit_code=130,
    )


def runtime_digest() -> str:
    """A digest of the runtime this CLI ships (package and image scripts), to match bases against."""
    digest = hashlib.sha256()
    root = assets.path("runtime")
    for path in sorted(root.rglob("*")):
        skipped = any(part == "__pycache__" or part == "build" or part.endswith(".egg-info") for part in path.parts)
        if path.is_file() and path.suffix in (".py", ".sh", ".txt", ".toml") and not skipped:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def engine_of(info: dict[str, Any]) -> str:
    """The engine a base (or function) image carries; bases from before engines were MXNet ones."""
    return (info.get("Config", {}).get("Labels") or {}).get("lit.engine") or "mxnet"


def require(docker: Docker, tag: str, engine: str = "mxnet", architecture: str = "x86_64") -> None:
    info = docker.image(tag)
    flags = ("" if engine == "mxnet" else f" --engine {engine}") + (
        "" if architecture == "x86_64" else f" --arch {architecture}"
    )
    if info is None:
        raise LitError(
            f"base image {tag} does not exist",
            f"build it with `lit base build{flags} --tag {tag}` (once per machine)",
        )
    if (carries := engine_of(info)) != engine:
        raise LitError(
            f"base image {tag} carries the {carries} engine, but the function needs {engine}",
            f"drop [build] base / --base to use {default_tag(engine, architecture)}, or build one with "
            f"`lit base build{flags}`",
        )
    if (built_for := arch.of_image(info)) != architecture:
        raise LitError(
            f"base image {tag} is {built_for}, but the function's [function] architecture is {architecture}",
            f"drop [build] base / --base to use {default_tag(engine, architecture)}, or build one with "
            f"`lit base build{flags}`",
        )
    carried = (info.get("Config", {}).get("Labels") or {}).get("lit.runtime")
    if carried and carried != runtime_digest():
        raise LitError(
            f"base image {tag} carries another LIT runtime ({carried}) than this lit ({runtime_digest()})",
            f"rebuild it with `lit base build{flags} --tag {tag}` (layers are cached; seconds to minutes)",
        )
