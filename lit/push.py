"""`lit push`: the function image to ECR (or any OCI registry), by digest.

ECR: the repository is created when missing (scan on push, a lifecycle policy keeping the last N
images); login uses get_authorization_token, and a push the registry refuses (an expired token)
logs in again and retries once. The engine pushes only layers the registry lacks, so pushing an
unchanged image uploads nothing. The result is recorded in PROJECT/.lit/last-push.json for deploy.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import arch, build, progress
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
    keep_login: bool = False,
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
    else:
        host, uri = registry.rstrip("/"), f"{registry.rstrip('/')}/{repository}"
    target = f"{uri}:{tag}"
    docker.tag(local, target)
    sizes = docker.layer_sizes(local) if progress.live(log) else {}
    with _registry_login(docker, ecr if registry is None else None, keep_login, log) as (pusher, relogin):
        return _push_and_record(pusher, project, target, uri, host, repository, tag, info, relogin, log, sizes)


def _push_and_record(
    docker: Docker,
    project: Project,
    target: str,
    uri: str,
    host: str,
    repository: str,
    tag: str,
    info: dict[str, Any],
    relogin: Callable[[], None] | None,
    log: Callable[[str], None],
    sizes: dict[str, int] | None = None,
) -> PushResult:
    pushed: str | None = None
    result: PushResult | None = None
    try:
        log(f"pushing {target}")
        with progress.PushLayers(log, target, sizes or {}) as layers:
            digest, uploaded = _push(docker, target, relogin, log, layers)
        pushed = f"{uri}@{digest}"
        result = PushResult(target, digest, pushed, host, repository, tag, uploaded, arch.of_image(info))
        _record(project, result)
        return result
    except KeyboardInterrupt:
        last = last_push(project)
        deploys = f"still deploys the last push, {last.uri}" if last else "has no push of this project to deploy yet"
        if result is not None and last == result:  # this push's own record, not an earlier one of the same image
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
    docker: Docker,
    target: str,
    relogin: Callable[[], None] | None,
    log: Callable[[str], None],
    lines: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """Push; `lines` takes docker's own output (default: `log`)."""
    try:
        return docker.push(target, lines or log)
    except RegistryAuthError:
        if relogin is None:
            raise
        log("the registry refused the token (expired?); logging in again")
        relogin()
        return docker.push(target, lines or log)


@contextmanager
def _registry_login(
    docker: Docker, ecr: Any | None, keep: bool, log: Callable[[str], None]
) -> Iterator[tuple[Docker, Callable[[], None] | None]]:
    """The docker client that pushes, and how to log it in again. For ECR, by default, the token
    lives in a Docker configuration of this push's own (a 0700 directory, removed when the push
    ends, however it ends): nothing is left in the user's ~/.docker/config.json for the next job on
    a shared CI runner. With `keep`, `docker login` stores it there as usual (12 hours on ECR). With
    --registry, the user's own login is used."""
    if ecr is None:
        yield docker, None
        return
    if keep:

        def login_kept() -> None:
            creds = ecr.login()
            log(f"logging in to {creds.host} (kept in the Docker configuration)")
            docker.login(creds.host, creds.username, creds.password)

        login_kept()
        yield docker, login_kept
        return
    own = tempfile.mkdtemp(prefix="lit-push-docker-")
    try:
        _inherit(Path(own))

        def login() -> None:
            creds = ecr.login()
            log(f"logging in to {creds.host} (for this push only)")
            auth = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            config = Path(own) / "config.json"
            settings = json.loads(config.read_text()) if config.is_file() else {}
            settings["auths"] = {creds.host: {"auth": auth}}
            fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(settings, out)

        login()
        before, docker.config = docker.config, own
        try:
            yield docker, login
        finally:
            docker.config = before
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _inherit(own: Path) -> None:
    """What of the user's Docker CLI configuration a push still needs: the current context (and the
    contexts), proxies and headers; never their credentials."""
    home = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        user = json.loads((home / "config.json").read_text())
    except (OSError, ValueError):
        user = {}
    kept = {k: v for k, v in user.items() if k in ("currentContext", "proxies", "HttpHeaders")}
    (own / "config.json").write_text(json.dumps(kept))
    if (home / "contexts").is_dir():
        (own / "contexts").symlink_to(home / "contexts")


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


def pushed_uri(project: Project, given: str | None, required: bool = False) -> str | None:
    """The image to deploy: `given` (--image-uri), else what the project's last `lit push` recorded."""
    if given is not None:
        return given
    last = last_push(project)
    if last is None and required:
        raise LitError(f"nothing pushed from {project.root} yet", "run `lit push` first, or pass --image-uri")
    return last.uri if last else None
