"""`lit push`: the function image to ECR (or any OCI registry), by digest.

ECR: the repository is created when missing (scan on push, a lifecycle policy keeping the last N
images); login uses get_authorization_token, and a push the registry refuses (an expired token)
logs in again and retries once. The engine pushes only layers the registry lacks, so pushing an
unchanged image uploads nothing. The result is recorded in PROJECT/.lit/last-push.json for deploy.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import arch, build
from .docker import Docker, RegistryAuthError
from .errors import LitError
from .project import Project

RECORD = Path(".lit") / "last-push.json"


@dataclass(frozen=True)
class PushResult:
    image: str  # REGISTRY/REPOSITORY:TAG
    digest: str  # sha256:...
    uri: str  # REGISTRY/REPOSITORY@sha256:... (what deploy uses)
    registry: str
    repository: str
    tag: str
    uploaded_layers: int
    architecture: str = ""  # the image config's, in Lambda's name ("" in records from before it was kept)


def git_tag(root: Path) -> str | None:
    """The commit the project is at (12 hex digits, '-dirty' with uncommitted changes), if in git."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sha.stdout.strip() + ("-dirty" if dirty else "")


def push(
    docker: Docker,
    project: Project,
    ecr: Any | None,
    image: str | None = None,
    registry: str | None = None,
    tag: str | None = None,
    keep: int = 10,
    log: Callable[[str], None] = lambda _: None,
) -> PushResult:
    docker.ensure()
    local, info = build.built_image(docker, project, image)
    if (built_for := arch.of_image(info)) != project.function.architecture:
        log(
            f"note: {local} is {built_for} but lit.toml's [function] architecture is {project.function.architecture}: "
            "`lit deploy` will refuse it until they match"
        )
    repository = project.image_repo
    tag = tag or git_tag(project.root) or f"img-{info['Id'].split(':')[-1][:12]}"
    if registry is None:
        if ecr is None:
            raise LitError("no registry given and no ECR client", "pass --registry HOST or AWS settings")
        uri = ecr.find_repository(repository)
        if uri is None:
            log(f"creating ECR repository {repository} (scan on push, keeps the last {keep} images)")
            uri = ecr.create_repository(repository, keep)
        host = uri.split("/", 1)[0]
        _login(docker, ecr, log)
    else:
        host, uri = registry.rstrip("/"), f"{registry.rstrip('/')}/{repository}"
    target = f"{uri}:{tag}"
    docker.tag(local, target)
    log(f"pushing {target}")
    pushed: str | None = None
    try:
        digest, uploaded = _push(docker, ecr, registry, target, log)
        pushed = f"{uri}@{digest}"
        result = PushResult(target, digest, pushed, host, repository, tag, uploaded, arch.of_image(info))
        _record(project, result)
        return result
    except KeyboardInterrupt:
        last = last_push(project)
        deploys = f"still deploys the last push, {last.uri}" if last else "has no push of this project to deploy yet"
        if pushed is not None and last is not None and last.uri == pushed:
            raise LitError(
                f"interrupted as the push finished: {pushed} is pushed and recorded; `lit deploy` deploys it",
                "nothing to do",
                exit_code=130,
            ) from None
        if pushed is not None:
            raise LitError(
                f"interrupted after the push: {pushed} is in the registry but not recorded, so `lit deploy` {deploys}",
                "run `lit push` again (its layers are there: it only records it)",
                exit_code=130,
            ) from None
        raise LitError(
            f"interrupted while pushing {target}: the layers already sent stay in the registry (the next push "
            f"skips them); the tag {tag} moves only when a push completes; nothing was deployed, and `lit deploy` "
            + deploys,
            "run `lit push` again",
            exit_code=130,
        ) from None


def _record(project: Project, result: PushResult) -> None:
    """What `lit deploy` deploys by default, replaced whole (never a torn file)."""
    record = project.root / RECORD
    record.parent.mkdir(exist_ok=True)
    part = record.with_name(record.name + ".part")
    part.write_text(json.dumps(asdict(result), indent=1))
    os.replace(part, record)


def _push(
    docker: Docker, ecr: Any | None, registry: str | None, target: str, log: Callable[[str], None]
) -> tuple[str, int]:
    try:
        return docker.push(target, log)
    except RegistryAuthError:
        if ecr is None or registry is not None:
            raise
        log("the registry refused the token (expired?); logging in again")
        _login(docker, ecr, log)
        return docker.push(target, log)


def _login(docker: Docker, ecr: Any, log: Callable[[str], None]) -> None:
    login = ecr.login()
    log(f"logging in to {login.host}")
    docker.login(login.host, login.username, login.password)


def architecture_of(docker: Docker | None, project: Project, uri: str) -> str | None:
    """The architecture of a pushed image (REPOSITORY@sha256:...), as far as this machine knows it:
    from the record of the push that sent it, else from the engine's copy of it; None if neither."""
    last = last_push(project)
    if last is not None and last.uri == uri and last.architecture:
        return last.architecture
    if docker is None:
        return None
    try:
        info = docker.image(uri)
    except (LitError, OSError):  # no engine here: a deploy needs none
        return None
    return arch.of_image(info) if info else None


def last_push(project: Project) -> PushResult | None:
    record = project.root / RECORD
    if not record.is_file():
        return None
    return PushResult(**json.loads(record.read_text()))
