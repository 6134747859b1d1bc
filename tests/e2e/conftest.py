"""E2E fixtures: a real Docker engine, the base image built once per session, unique names,
free ports, and cleanup of every container and image a test made, even when it fails."""

from __future__ import annotations

import base64
import calendar
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit.base import SYSTEM_CA
from lit.docker import Docker
from lit.errors import LitError
from tests.conftest import free_port
from tests.e2e.registry import ecr_registry

RUN_ID = uuid.uuid4().hex[:8]


def lit(
    *args: str, check: bool = True, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "lit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


class Reader:
    """A process's stdout or stderr read by a thread, so that a silent process cannot hang a test."""

    def __init__(self, proc: subprocess.Popen[str], stream: str = "stdout") -> None:
        import queue
        import threading

        self.lines: queue.Queue[str | None] = queue.Queue()
        pipe = getattr(proc, stream)
        assert pipe is not None
        threading.Thread(target=lambda: [*map(self.lines.put, pipe), self.lines.put(None)], daemon=True).start()

    def until(self, needle: str, timeout: float = 30) -> list[str]:
        """The lines up to the first holding `needle`; fails after `timeout` seconds or at the end."""
        import queue

        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if needle in line:
                return seen
        raise AssertionError(f"no line with {needle!r} within {timeout:.0f}s; got: {seen[-10:]}")

    def rest(self, timeout: float = 60) -> str:
        """Everything left, to the end of the stream."""
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while (line := self.lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
            out.append(line)
        return "".join(out)


def start_lit(*args: str) -> subprocess.Popen[str]:
    """`lit ARGS` running: stderr (the progress log) to be read line by line (see Reader), stdout kept apart."""
    return subprocess.Popen(
        [sys.executable, "-m", "lit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    """Lines of proc's stdout up to the first holding `needle` (see Reader)."""
    return Reader(proc).until(needle, timeout)


@pytest.fixture(scope="session")
def docker() -> Docker:
    client = Docker()
    try:
        client.ping()
    except LitError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a Docker engine for the e2e tier: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    return client


@pytest.fixture(scope="session")
def base_image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`lit base build` under a test tag, with a CA bundle carrying a marker no layer may hold."""
    tag = f"lit-base:test-{RUN_ID}"
    marker = f"lit-ca-marker-{RUN_ID}"
    bundle = tmp_path_factory.mktemp("ca") / "bundle.crt"
    bundle.write_text((SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else "") + f"\n# {marker}\n")
    started = time.time()
    lit("base", "build", "--tag", tag, "--ca-bundle", str(bundle), "-q", "--json")
    yield tag, marker
    docker.remove_image(tag)
    # (the base's build stage holds the marked bundle)
    remove_stages_since(docker, started)


def remove_stages_since(docker: Docker, started: float) -> None:
    """Build stages are kept by the engine as cache images (tagged lit-cache:..., or dangling from
    an earlier LIT): remove the ones made since `started` (a time.time()), and only those."""
    for info in docker.labelled("lit.stage"):
        created = info.get("Created", "")[:19]
        if created and calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%S")) >= started - 5:
            for tag in info.get("RepoTags") or []:
                docker.remove_image(tag)
            docker.remove_image(info["Id"])


@pytest.fixture(scope="session")
def ort_base_image(
    docker: Docker, base_image: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The ONNX Runtime engine's base, under a test tag, with the same marked CA bundle (after the
    MXNet base, so both come from the one bootstrapped OS layer)."""
    tag = f"lit-base:test-{RUN_ID}-onnxruntime"
    bundle = tmp_path_factory.mktemp("ca-ort") / "bundle.crt"
    bundle.write_text((SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else "") + f"\n# {base_image[1]}\n")
    lit("base", "build", "--engine", "onnxruntime", "--tag", tag, "--ca-bundle", str(bundle), "-q", "--json")
    yield tag
    docker.remove_image(tag)


@pytest.fixture(scope="session")
def echo_image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny image of tests/fixtures/echo (the RIE and a few-line runtime on the bootstrapped OS
    layer, built in seconds): for tests of the stand-in that need any image to run, not LIT's."""
    from lit import base, rie
    from tests.conftest import FIXTURES

    made_os = docker.image(base.BOOTSTRAP_TAG) is None
    if made_os:
        base.bootstrap_os(docker, base.BOOTSTRAP_TAG, "x86_64", lambda _: None)
    ctx = tmp_path_factory.mktemp("echo")
    shutil.copytree(FIXTURES / "echo", ctx, dirs_exist_ok=True)
    shutil.copy(Path(__file__).parents[2] / "runtime" / "lit_runtime" / "metrics.py", ctx / "lit_metrics.py")
    shutil.copy(rie.find("x86_64"), ctx / "aws-lambda-rie")
    tag = f"lit-standin-echo:{RUN_ID}"
    docker.build(ctx, tag, build_args={"OS_IMAGE": base.BOOTSTRAP_TAG})
    yield tag
    docker.remove_image(tag)
    if made_os:
        docker.remove_image(base.BOOTSTRAP_TAG)


@pytest.fixture(scope="session")
def digits_project(digits_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the digits project under a unique function name (no clash with users' images)."""
    dest = tmp_path_factory.mktemp("proj") / "digits"
    shutil.copytree(digits_model, dest, ignore=shutil.ignore_patterns("__pycache__"))
    config = dest / "lit.toml"
    config.write_text(config.read_text().replace('name = "digits"', f'name = "digits-t{RUN_ID}"'))
    return dest


@pytest.fixture(scope="session")
def digits_image(docker: Docker, base_image: tuple[str, str], digits_project: Path) -> Iterator[str]:
    out = lit("build", str(digits_project), "--base", base_image[0], "--json")
    image = json.loads(out.stdout)["image"]
    yield image
    docker.remove_image(image)


@pytest.fixture()
def running(docker: Docker) -> Iterator:
    """Start `lit run` for a project; stop its containers afterwards (logs shown on failure)."""
    started: list[Path] = []

    def _run(project: Path, *extra: str) -> int:
        port = free_port()
        lit("run", str(project), "--port", str(port), *extra)
        started.append(project)
        return port

    yield _run
    for project in started:
        name = _function_name(project)
        for c in docker.containers(f"lit.run={name}"):
            print(docker.logs(c.id)[-3000:])
        lit("stop", str(project), check=False)


def _function_name(project: Path) -> str:
    import tomllib

    return tomllib.loads((project / "lit.toml").read_text())["name"]


def train_digits(root: Path, epochs: int) -> None:
    """Train the digits project's model again, for `epochs` (one makes a measurably worse model);
    its held-out PNGs are written elsewhere, so the project's own stay."""
    subprocess.run(
        [
            sys.executable,
            str(root / "train.py"),
            "--epochs",
            str(epochs),
            "--out",
            str(root / "model"),
            "--heldout",
            str(root / ".lit-unused-heldout"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    shutil.rmtree(root / ".lit-unused-heldout")


def copy_project(src: Path, dest: Path, name: str) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".lit"))
    config = dest / "lit.toml"
    text = config.read_text()
    old = _function_name(src)
    config.write_text(text.replace(f'name = "{old}"', f'name = "{name}"'))
    return dest


@pytest.fixture(scope="module")
def registry(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The ECR stand-in (tests/e2e/registry.py) under the host name moto's ECR token names."""
    if os.geteuid() != 0:
        pytest.skip("the ECR stand-in needs root (port 443, /etc/hosts)")
    import boto3

    ecr = boto3.client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    host = token["proxyEndpoint"].removeprefix("https://")
    with ecr_registry(tmp_path_factory.mktemp("registry"), host, user, password) as reg:
        yield reg
