"""`lit doctor`: is this machine (and optionally this project) ready, and if not, what to fix.

Each check answers ok, warn or fail with a detail and a fix. Nothing here changes anything: no
build, no download, no AWS call but STS's get-caller-identity (bounded in time, so an offline
machine gets a warning in seconds, not a hang).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import arch, base, build, rie, runtime_config
from .docker import Docker, RunSpec, TimedOut
from .errors import AwsError, LitError
from .project import Project

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_ENGINE = (17, 5)  # multi-stage builds (COPY --from) arrived in Docker 17.05
DISK_FAIL, DISK_WARN = 1e9, 4e9  # a base build holds its OS image, build stage and result at once
LAMBDA_IMAGE_LIMIT = 10 * 2**30  # Lambda's limit on a container image's uncompressed size
ENTRYPOINT = ["/lambda-entrypoint.sh"]
RIE_IN_IMAGE = "/usr/local/bin/aws-lambda-rie"
AWS_TIMEOUT = 6.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def _failed(name: str, exc: LitError) -> Check:
    return Check(name, FAIL, exc.what, exc.fix)


def check_engine(docker: Docker) -> Check:
    try:
        version = docker.ping(timeout=15)
    except LitError as exc:
        return _failed("docker engine", exc)
    where = os.environ.get("DOCKER_HOST") or "the local socket"
    parts = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
    if parts and parts < MIN_ENGINE:
        return Check(
            "docker engine",
            FAIL,
            f"Docker {version} at {where} is older than 17.05 (no multi-stage builds)",
            "upgrade the Docker engine",
        )
    return Check("docker engine", OK, f"Docker {version} at {where}")


def check_builder(docker: Docker) -> Check:
    forced = os.environ.get("DOCKER_BUILDKIT", "")
    if forced in ("", "0", "false"):
        return Check("builder", OK, "the classic builder (LIT sets DOCKER_BUILDKIT=0 for its builds)")
    buildx = docker.buildx_version()
    if buildx is None:
        return Check(
            "builder",
            FAIL,
            f"DOCKER_BUILDKIT={forced} but the buildx plugin is not installed: every build will fail",
            "unset DOCKER_BUILDKIT (LIT picks the classic builder itself), or install docker-buildx",
        )
    return Check(
        "builder",
        WARN,
        f"DOCKER_BUILDKIT={forced}: BuildKit ({buildx}); LIT's builds are made and tested with the classic builder",
        "unset DOCKER_BUILDKIT (LIT picks the classic builder itself)",
    )


def _free_bytes(path: Path) -> int | None:
    for candidate in (path, *path.parents):  # the storage root itself is often root-only
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def check_disk(docker: Docker) -> Check:
    host = os.environ.get("DOCKER_HOST", "")
    try:
        root = str(docker.info().get("DockerRootDir") or "")
    except LitError as exc:
        return Check("disk", WARN, f"`docker info` failed: {exc.what}", exc.fix)
    free = None if host and not host.startswith("unix://") else _free_bytes(Path(root or "/var/lib/docker"))
    if free is None:
        return Check(
            "disk",
            WARN,
            f"cannot see the engine's storage ({root or 'unknown'}) from here (a remote engine?)",
            "make sure the engine's disk has 4 GB free for `lit base build`",
        )
    detail = f"{free / 1e9:.1f} GB free for images ({root})"
    prune = "free space: `docker image prune` (dangling images), `docker system df` shows what uses it"
    if free < DISK_FAIL:
        return Check("disk", FAIL, detail + "; builds will fail", prune)
    if free < DISK_WARN:
        return Check("disk", WARN, detail + "; `lit base build` needs about 4 GB", prune)
    return Check("disk", OK, detail)


def check_base(docker: Docker, ref: str, engine: str = "mxnet", architecture: str = "x86_64") -> Check:
    try:
        base.require(docker, ref, engine, architecture)  # the same test `lit build` makes
    except LitError as exc:
        return _failed("base image", exc)
    info = docker.image(ref) or {}
    carried = (info.get("Config", {}).get("Labels") or {}).get("lit.runtime")
    size = f"{int(info.get('Size', 0)) / 1e6:.0f} MB"
    if not carried:
        return Check(
            "base image",
            WARN,
            f"{ref} ({size}) carries no lit.runtime label: which runtime it holds is unknown",
            "rebuild it with `lit base build`",
        )
    return Check("base image", OK, f"{ref} ({size}), runtime {carried} matches this lit")


def _probe(docker: Docker, image: str, handler: str, architecture: str) -> dict[str, Any]:
    """What the image's own runtime says of itself; `architecture` is the image's (its platform)."""
    limit = 600 if arch.emulated(architecture) else 120
    spec = RunSpec(
        image,
        ("-m", "lit_runtime.probe", handler, RIE_IN_IMAGE),  # the image's own runtime answers
        platform=arch.PLATFORMS.get(architecture),
        network="none",
        entrypoint="/opt/lit/bin/python",
    )
    try:
        proc = docker.run_once(spec, limit)
    except TimedOut:
        raise LitError(
            f"a probe container of {image} ran over {limit} s", "see `docker ps`; is the engine overloaded?"
        ) from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        if "lit_runtime.probe" in tail[0]:
            raise LitError(f"{image}'s runtime predates this lit: {tail[0]}", "rebuild it with `lit build DIR`")
        raise LitError(
            f"{image} cannot run /opt/lit/bin/python: {tail[0]}", "build the image FROM a LIT base (`lit build DIR`)"
        )
    return dict(json.loads(lines[-1]))


def check_emulation(architecture: str) -> Check:
    """Whether this machine runs the function's architecture, and how (natively or emulated)."""
    if (problem := arch.emulation_problem(architecture)) is not None:
        return Check(
            "architecture",
            FAIL,
            f"{architecture} containers cannot run here: {problem}",
            arch.emulation_fix(architecture),
        )
    if arch.emulated(architecture):
        return Check(
            "architecture",
            WARN,
            f"{architecture} {arch.note(architecture)}",
            f"bench on an {architecture} machine for Lambda's timings",
        )
    return Check("architecture", OK, f"{architecture}, as this machine")


def check_rie(docker: Docker, base_ref: str | None, architecture: str) -> Check:
    try:
        local = rie.locate(architecture)
    except LitError as exc:
        return _failed("lambda rie", exc)
    host = f"cached at {local}" if local else "not on this machine (`lit base build` downloads it)"
    if base_ref is None:
        if local:
            return Check("lambda rie", OK, f"{architecture}: {host}")
        return Check(
            "lambda rie",
            WARN,
            f"{architecture}: {host}; the base image is missing too",
            "let `lit base build` fetch it (release page or the aws-sam-cli wheel), or set LIT_RIE to a downloaded binary",
        )
    try:
        found = _probe(docker, base_ref, "lit_runtime.handler.handler", arch.of_image(docker.image(base_ref) or {}))
    except LitError as exc:
        return _failed("lambda rie", exc)
    if not found["rie"]:
        return Check(
            "lambda rie",
            FAIL,
            f"{base_ref} has no executable {RIE_IN_IMAGE}: `lit run` cannot emulate Lambda",
            "rebuild the base with `lit base build`",
        )
    return Check("lambda rie", OK, f"in {base_ref} ({RIE_IN_IMAGE}); for rebuilds: {host}")


def _with_deadline(call: Callable[[], Any], seconds: float) -> tuple[bool, Any]:
    """(finished, result or exception). A daemon thread, so a hung socket cannot hold the CLI."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, call()))
        except Exception as exc:
            box.append((False, exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if not box:
        return False, None
    ok, value = box[0]
    if not ok:
        raise value
    return True, value


def check_aws(region: str | None, timeout: float = AWS_TIMEOUT) -> list[Check]:

    from . import aws

    need = "needed only by push, deploy and the other AWS commands"
    creds_fix = "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run `aws configure`)"
    # Any error here is a finding to report (a broken profile, a bad config file), not a crash.
    try:
        sess = aws.session(region)
        finished, creds = _with_deadline(sess.get_credentials, timeout)
    except Exception as exc:
        return [
            Check("aws credentials", WARN, f"{aws.translate(exc, 'reading the AWS set-up').what} ({need})", creds_fix)
        ]
    checks = []
    if sess.region_name:
        checks.append(Check("aws region", OK, sess.region_name))
    else:
        checks.append(Check("aws region", WARN, f"no AWS region set ({need})", "set AWS_REGION, or pass --region"))
    if not finished:
        return [Check("aws credentials", WARN, f"looking up credentials took over {timeout:.0f}s", creds_fix), *checks]
    if creds is None:
        return [Check("aws credentials", WARN, f"no AWS credentials found ({need})", creds_fix), *checks]
    source = f"credentials from {getattr(creds, 'method', '') or 'the default chain'}"
    try:
        finished, identity = _with_deadline(aws.STSClient(sess, quick=True).identity, timeout)
    except Exception as exc:
        error = exc if isinstance(exc, AwsError) else aws.translate(exc, "sts get-caller-identity")
        return [Check("aws credentials", WARN, f"{source}: {error.what} ({need})", error.fix), *checks]
    if not finished:
        return [
            Check(
                "aws credentials",
                WARN,
                f"{source}: AWS STS did not answer within {timeout:.0f}s (offline?); the credentials are unverified",
                "check the network or proxy settings (local commands work without AWS)",
            ),
            *checks,
        ]
    return [Check("aws credentials", OK, f"{identity['Arn']} (account {identity['Account']}, {source})"), *checks]


def load_project(root: Path) -> tuple[Project | None, Check]:
    from . import project as projects

    try:
        proj = projects.load(root)
    except LitError as exc:
        return None, _failed("lit.toml", exc)
    model = proj.model_url or (
        os.path.relpath(proj.model_path, proj.root) + ("/" if proj.model_path.is_dir() else "")
        if proj.model_path
        else "none"
    )
    return proj, Check(
        "lit.toml",
        OK,
        f"function {proj.name}: {proj.model_format} model on {proj.engine} at {model}, {proj.function.memory} MB, "
        f"{proj.function.timeout} s, {proj.function.architecture}",
    )


def check_image(docker: Docker, proj: Project, image: str | None = None) -> list[Check]:
    """The built image's contract with Lambda, then its init (model load, warm-up) as `lit build` runs it."""
    ref = image or f"{proj.image_repo}:latest"
    info = docker.image(ref)
    if info is None:
        return [Check("image", FAIL, f"image {ref} does not exist", f"build it with `lit build {proj.root}`")]
    cfg = info.get("Config") or {}
    size = int(info.get("Size", 0))
    built_for = arch.of_image(info)
    problems: list[tuple[str, str]] = []
    if cfg.get("Entrypoint") != ENTRYPOINT:
        problems.append((f"ENTRYPOINT is {cfg.get('Entrypoint')}, not {ENTRYPOINT}", "build it FROM a LIT base"))
    if built_for != proj.function.architecture:
        problems.append(
            (
                f"the image is {built_for}, lit.toml says {proj.function.architecture}: on Lambda it would not start",
                f"`lit build {proj.root}` (it builds for lit.toml's architecture)",
            )
        )
    if size > LAMBDA_IMAGE_LIMIT:
        problems.append((f"{size / 2**30:.1f} GiB is over Lambda's 10 GiB image limit", "drop files or requirements"))
    handler = (cfg.get("Cmd") or ["lit_runtime.handler.handler"])[0]
    try:
        found = _probe(docker, ref, handler, built_for)
    except LitError as exc:
        return [_failed("image", exc)]
    if not found["entrypoint"]:
        problems.append(("/lambda-entrypoint.sh is missing or not executable", "rebuild FROM a LIT base"))
    if not found["rie"]:
        problems.append((f"{RIE_IN_IMAGE} is missing: `lit run` cannot emulate Lambda", "rebuild FROM a LIT base"))
    if not found["awslambdaric"]:
        problems.append(("awslambdaric is not installed: on Lambda nothing answers", "rebuild FROM a LIT base"))
    if found["handler"] != "ok":
        problems.append((f"CMD {handler}: {found['handler']}", "point CMD at module.function that the image holds"))
    checks = []
    if problems:
        checks.append(Check("image contract", FAIL, "; ".join(p for p, _ in problems), problems[0][1]))
    else:
        checks.append(
            Check(
                "image contract",
                OK,
                f"{ref} ({size / 1e6:.0f} MB, {built_for}): ENTRYPOINT /lambda-entrypoint.sh, CMD {handler}, "
                "the RIE and awslambdaric present",
            )
        )
    if runtime_config.stale(proj, info):
        checks.append(
            Check(
                "image config",
                WARN,
                f"lit.toml changed since {ref} was built: the image still runs the configuration it was built with",
                f"`lit build {proj.root}`",
            )
        )
    carried = (cfg.get("Labels") or {}).get("lit.runtime")
    if carried and carried != base.runtime_digest():
        checks.append(
            Check(
                "image runtime",
                WARN,
                f"{ref} was built on a base with runtime {carried}; this lit ships {base.runtime_digest()}",
                f"`lit base build`, then `lit build {proj.root}`",
            )
        )
    try:
        build.check(docker, ref, proj)  # the runtime's own init: config, hooks, model load, warm-up
    except LitError as exc:
        checks.append(Check("model", FAIL, exc.what, exc.fix))
    else:
        checks.append(Check("model", OK, "the runtime's init (config, hooks, model load, warm-up) runs in the image"))
    return checks


def run(
    docker: Docker,
    root: Path | None = None,
    base_image: str | None = None,
    region: str | None = None,
    aws_timeout: float = AWS_TIMEOUT,
) -> Report:
    report = Report()
    proj, project_check = load_project(root) if root is not None else (None, None)
    engine = check_engine(docker)
    report.checks.append(engine)
    if engine.status != FAIL:
        report.checks.append(check_builder(docker))
        report.checks.append(check_disk(docker))
        engine_name = proj.engine if proj else "mxnet"
        architecture = proj.function.architecture if proj else arch.host()
        if arch.emulated(architecture):
            report.checks.append(check_emulation(architecture))
        base_ref = base_image or (proj.base if proj else None) or base.default_tag(engine_name, architecture)
        base_check = check_base(docker, base_ref, engine_name, architecture)
        report.checks.append(base_check)
        report.checks.append(check_rie(docker, base_ref if base_check.status != FAIL else None, architecture))
    report.checks += check_aws(region, aws_timeout)
    if project_check is not None:
        report.checks.append(project_check)
    if proj is not None and engine.status != FAIL:
        report.checks += check_image(docker, proj)
    return report


def text(report: Report) -> str:
    lines = []
    for c in report.checks:
        lines.append(f"{c.status:4}  {c.name:16} {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"{'':23}fix: {c.fix}")
    failed = sum(c.status == FAIL for c in report.checks)
    warned = sum(c.status == WARN for c in report.checks)
    lines.append(f"{len(report.checks)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)
