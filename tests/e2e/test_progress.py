"""What a person sees: live progress in a real pseudo-terminal (tmux), plain lines and the same
JSON elsewhere; and the build stages LIT keeps as cache, named, listed and removed.

The function is a one-node ONNX graph on the ONNX Runtime base (the machine's own when it carries
this runtime, else the session's test base): it builds in seconds and benches in seconds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit import base
from lit.docker import Docker
from lit.errors import LitError
from tests.e2e.conftest import RUN_ID, lit
from tests.fixtures import onnx_models

pytestmark = pytest.mark.e2e

NAME = f"tiny-t{RUN_ID}"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TINY = f"""name = "{NAME}"

[model]
path = "model/linear.onnx"
format = "onnx"
input = "tensor"
task = "raw"
input_shape = [4]

[function]
memory = 512
timeout = 10
"""


@pytest.fixture(scope="module")
def small_base(docker: Docker, request: pytest.FixtureRequest) -> str:
    """The ONNX Runtime base: this machine's, when it carries this LIT's runtime, else the test one."""
    tag = base.default_tag("onnxruntime")
    try:
        base.require(docker, tag, "onnxruntime")
    except LitError:
        return str(request.getfixturevalue("ort_base_image"))
    return tag


@pytest.fixture(scope="module")
def tiny(docker: Docker, small_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The one-node project, built (its optimise stage kept as a cache); image and cache removed after."""
    pytest.importorskip("onnx")
    root = tmp_path_factory.mktemp("tiny") / NAME
    (root / "model").mkdir(parents=True)
    onnx_models.linear_without_initializer_inputs(root / "model" / "linear.onnx")
    (root / "lit.toml").write_text(TINY)
    try:
        lit("build", str(root), "--base", small_base, "-q")
        yield root
    finally:
        lit("stop", str(root), check=False)
        docker.remove_image(f"lit-{NAME}:latest")
        lit("cache", "rm", str(root), check=False)
        for ref in docker.references(f"*/lit-{NAME}"):  # what `lit push` tagged for the registry
            docker.remove_image(ref)


class Tmux:
    """Commands in a pseudo-terminal of 120x40 columns: a tmux server on a socket of this test's
    own, so a person's tmux is never touched; its session is killed by name at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        if shutil.which("tmux") is None:
            if os.environ.get("CI"):
                pytest.fail("CI needs tmux for the e2e tier (scripts/setup.sh installs it)")
            pytest.skip("tmux is not installed (apt-get install tmux)")
        self.home = Path(tempfile.mkdtemp(prefix="lit-tmux-"))  # short: a socket's path has a length limit
        self.socket, self.session, self.env = self.home / "socket", f"lit-{RUN_ID}", env
        self.started = False

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, env=self.env)

    def run(self, command: str, timeout: float = 300) -> str:
        """Run `command` in a fresh window and wait for it to end; what the pane shows then (with
        its scrollback), escape sequences already applied as the terminal drew them."""
        done = f"lit-done-{time.monotonic_ns()}"
        shell = f"{command}; echo {done} $?; exec sleep 600"
        if not self.started:
            made = self.tmux("new-session", "-d", "-s", self.session, "-x", "120", "-y", "40", shell)
            self.started = made.returncode == 0
            assert self.started, made.stderr
        else:
            self.tmux("new-window", "-t", self.session, shell)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.tmux("capture-pane", "-p", "-J", "-S", "-300", "-t", self.session).stdout
            if f"{done} " in screen:
                print(f"--- tmux, 120x40: {command}\n{screen.rstrip()}")  # (shown with -s, or on failure)
                code = screen.split(f"{done} ", 1)[1].split()[0]
                assert code == "0", f"{command} exited {code}:\n{screen}"
                return screen
            time.sleep(0.2)  # (polling the screen for the end marker, not waiting blindly)
        raise AssertionError(f"{command} did not end within {timeout:.0f}s")

    def close(self) -> None:
        self.tmux("kill-session", "-t", self.session)
        self.tmux("kill-server")  # the server on our own socket only
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture()
def tmux(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tmux]:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # the same lit as the test's, inside tmux
    term = Tmux(dict(os.environ, TERM="xterm-256color"))
    try:
        yield term
    finally:
        term.close()
    assert not term.home.exists(), "no tmux server or socket is left"


def lit_command(*args: str) -> str:
    return " ".join([sys.executable, "-m", "lit", *(f"'{a}'" for a in args)])


def test_push_shows_bytes_sent_on_a_terminal_and_the_same_json_anywhere(
    aws: str, registry: dict, tiny: Path, tmux: Tmux, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    tmux.env["AWS_REGION"] = "us-east-1"
    tmux.env["AWS_ENDPOINT_URL"] = aws
    screen = tmux.run(lit_command("push", str(tiny), "--tag", "tty"))
    host = registry["host"]
    # the live line: the bytes of the layers the registry lacked, all sent, with a rate
    bar = re.search(r"push: (\d+) layers sent, 0 already there.*100% ([\d.]+ [kMG]?B)/\2 +[\d.]+ [kMG]?B/s", screen)
    assert bar and int(bar[1]) >= 1, screen
    assert f"{host}/lit-{NAME}@sha256:" in screen and "layers uploaded" in screen
    assert ": Pushed" not in screen, "docker's own lines are the bar on a terminal"

    # elsewhere: docker's plain lines, no escape sequence; --json: the same bytes with and without a terminal
    plain = lit("push", str(tiny), "--tag", "plain")
    assert ": Layer already exists" in plain.stderr and not ANSI.search(plain.stderr + plain.stdout)
    piped = lit("push", str(tiny), "--tag", "json", "--json").stdout
    out = tmp_path / "push.json"
    screen = tmux.run(lit_command("push", str(tiny), "--tag", "json", "--json") + f" > '{out}'")
    assert out.read_bytes() == piped.encode(), "--json on a terminal is what it is anywhere"
    assert json.loads(piped)["uploaded_layers"] == 0 and "push" not in screen, "and nothing else on the terminal"


def test_bench_shows_invokes_done_on_a_terminal_and_only_json_with_json(tiny: Path, tmux: Tmux, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"inputs": [[0.5, 1.0, 0.0, 2.0]]}))
    args = ("bench", str(tiny), "--memory", "512", "--cold", "1", "--warm", "40", "--event", str(event))
    screen = tmux.run(lit_command(*args))
    assert re.search(r"✓ bench .* 100% 41/41 invokes +[\d.]+ invokes/s", screen), screen
    assert "512 MB: 1 cold start, 40 warm invokes" in screen and "recommended: 512 MB" in screen

    piped = lit(*args, "--json").stdout
    out = tmp_path / "bench.json"
    tmux.run(lit_command(*args, "--json") + f" > '{out}'")
    got = out.read_text()
    assert got == json.dumps(json.loads(got)) + "\n", "one JSON object, nothing else"
    mine, theirs = json.loads(got), json.loads(piped)
    assert mine.keys() == theirs.keys() and mine["layers"] == theirs["layers"], "the same report (timings aside)"
    plain = lit(*args)
    assert "512 MB: 1 cold start" in plain.stderr and not ANSI.search(plain.stderr + plain.stdout)


def test_build_stages_are_named_listed_and_removed(docker: Docker, small_base: str, tiny: Path) -> None:
    tag = f"lit-cache:{NAME}-optimize"
    images = subprocess.run(
        [docker.binary, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True
    )
    assert tag in images.stdout.split(), "the optimise stage is named in `docker images`"
    assert docker.dangling(f"lit.project={NAME}") == [], "no stage of it shows as <none>"

    # one left untagged by an earlier LIT is listed (and removed) too
    ctx = tiny.parent / "old-stage"
    ctx.mkdir(exist_ok=True)
    labels = f"lit.stage=function-build lit.project={NAME} lit.e2e=old-stage"  # (not the real stage's, cached)
    (ctx / "Dockerfile").write_text(f"FROM {small_base}\nLABEL {labels}\n")
    built = subprocess.run([docker.binary, "build", "-q", str(ctx)], capture_output=True, text=True, check=True)
    old = built.stdout.strip()  # untagged: the engine keeps it as <none>
    try:
        listed = json.loads(lit("cache", "list", str(tiny), "--json").stdout)["caches"]
        assert [(c["image"], c["stage"], c["kind"]) for c in listed] == [
            ("", "", "function-build"),
            (tag, "optimize", "function-build"),
        ], listed
        named = next(c for c in listed if c["image"] == tag)
        assert named["project"] == NAME and named["architecture"] == "x86_64" and named["engine"] == "onnxruntime"
        assert named["size"] > 100_000_000 and 0 < named["unique_size"] < 10_000_000, "the base is not its own"
        every = json.loads(lit("cache", "list", "--all", "--json").stdout)["caches"]
        assert {c["id"] for c in listed} <= {c["id"] for c in every}

        # from the project's directory, as text
        text = subprocess.run(
            [sys.executable, "-m", "lit", "cache", "list"], cwd=tiny, capture_output=True, text=True, check=True
        ).stdout
        assert tag in text and "optimised by ONNX Runtime" in text and "<none>" in text and "2 cache(s)" in text

        removed = json.loads(lit("cache", "rm", str(tiny), "--json").stdout)
        assert {c["id"] for c in removed["removed"]} == {c["id"] for c in listed} and removed["freed"] > 0
        assert docker.image(tag) is None and docker.image(old) is None
        assert json.loads(lit("cache", "list", str(tiny), "--json").stdout) == {"caches": []}
        assert lit("cache", "rm", str(tiny)).stdout.strip() == f"no caches of {NAME}"
    finally:
        docker.remove_image(old)

    # the exit-code policy: no lit.toml is 2, no engine 3
    proc = subprocess.run([sys.executable, "-m", "lit", "cache", "list"], cwd=ctx, capture_output=True, text=True)
    assert proc.returncode == 2 and "lit.toml" in proc.stderr and "Traceback" not in proc.stderr
    proc = lit("cache", "list", "--all", check=False, env={"DOCKER_HOST": "unix:///tmp/lit-no-engine.sock"})
    assert proc.returncode == 3 and "Docker engine is not running" in proc.stderr

    # a rebuild names its stage again
    lit("build", str(tiny), "--base", small_base, "-q")
    assert docker.image(tag) is not None
