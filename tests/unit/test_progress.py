"""Progress: plain lines as they always were off a terminal; on one, bars with amounts, rates and
time left, and docker's build and push logs read as steps with layer sizes and as bytes sent."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from lit import progress
from lit.docker import parse_size, stages

pytestmark = pytest.mark.unit

BUILD_LOG = [
    "Sending build context to Docker daemon  3.072kB",
    "Step 1/4 : FROM lit-base:py3.11-onnxruntime AS optimize",
    " ---> 64d197e862ab",
    "Step 2/4 : RUN make-the-model",
    " ---> Running in 0123456789ab",
    "some output of the step",
    "Removing intermediate container 0123456789ab",
    " ---> 111111111111",
    "Step 3/4 : FROM lit-base:py3.11-onnxruntime",
    " ---> 64d197e862ab",
    "Step 4/4 : COPY --from=optimize /opt/lit-model/ /var/task/model/",
    " ---> Using cache",
    " ---> 222222222222",
    "Successfully built 222222222222",
]
SIZES = {"64d197e862ab": 245_000_000, "111111111111": 245_025_000, "222222222222": 245_000_600}


def terminal() -> tuple[progress.Terminal, io.StringIO]:
    """A Terminal drawing into a string, on a clock that moves a second each time it is read."""
    from itertools import count

    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None, highlight=False, markup=False)
    return progress.Terminal(console, clock=count().__next__), out


def test_off_a_terminal_every_line_passes_as_it_came() -> None:
    said: list[str] = []
    with progress.BuildSteps(said.append, "building x", SIZES.get) as steps:
        for line in BUILD_LOG:
            steps(line)
    with progress.PushLayers(said.append, "host/repo:v1", {"aaaaaaaaaaaa": 10}) as layers:
        layers("aaaaaaaaaaaa: Pushed")
    with progress.task(said.append, "bench", 10, "invokes") as task:
        task.advance(3)
    progress.say(said.append, "5/10 examples")
    assert said == [*BUILD_LOG, "aaaaaaaaaaaa: Pushed", "5/10 examples"]
    assert progress.reporter(said.append) == said.append, "stderr is no terminal under pytest"


def test_on_a_terminal_a_build_is_steps_with_the_size_of_each_layer() -> None:
    log, out = terminal()
    with progress.BuildSteps(log, "building lit-x:latest", SIZES.get) as steps:
        for line in BUILD_LOG:
            steps(line)
    text = out.getvalue()
    assert "step 1/4  FROM lit-base:py3.11-onnxruntime AS optimize  245 MB (the image it starts from)" in text
    assert "step 2/4  RUN make-the-model  25 kB" in text
    assert "step 4/4  COPY --from=optimize /opt/lit-model/ /var/task/model/  600 B  cached" in text
    assert "some output of the step" not in text, "a step's own output stays out of the display"
    assert "100% 4/4 steps" in text


def test_on_a_terminal_a_push_is_bytes_of_the_layers_the_registry_lacks() -> None:
    log, out = terminal()
    sizes = {"aaaaaaaaaaaa": 200_000_000, "bbbbbbbbbbbb": 5_000_000, "cccccccccccc": 1_000}
    with progress.PushLayers(log, "host/repo:v1", sizes) as layers:
        for line in ("aaaaaaaaaaaa: Preparing", "aaaaaaaaaaaa: Layer already exists", "bbbbbbbbbbbb: Pushed"):
            layers(line)
        layers("cccccccccccc: Pushed")
        layers("v1: digest: sha256:abc size: 1234")
    text = out.getvalue()
    assert "push: 2 layers sent, 1 already there" in text and "5 MB/5 MB" in text and "100%" in text


def test_on_a_terminal_a_task_shows_its_amount_rate_and_time_left() -> None:
    log, out = terminal()
    with progress.task(log, "bench", 400, "invokes") as task:
        log("1024 MB: 3 cold starts, 200 warm invokes")
        for _ in range(4):
            task.advance(100)
            log.bars.refresh()
    text = out.getvalue()
    assert "1024 MB: 3 cold starts, 200 warm invokes" in text and "400/400 invokes" in text
    assert "invokes/s" in text and "left 0:" in text
    progress.say(log, "200/400 examples")
    assert "200/400 examples" not in out.getvalue(), "what the bar shows is not said again"


def test_sizes_read_and_said_as_docker_does() -> None:
    assert [parse_size(s) for s in ("245.1MB", "0B", "25.4kB", "1.2GB", "?")] == [
        245_100_000,
        0,
        25_400,
        1_200_000_000,
        0,
    ]
    assert [progress.human(n) for n in (0, 999, 25_420, 245_098_584, 1.5e9)] == [
        "0 B",
        "999 B",
        "25.4 kB",
        "245 MB",
        "1.5 GB",
    ]


def test_a_build_logs_stages_are_named_by_their_last_image() -> None:
    assert stages(BUILD_LOG) == [("optimize", "111111111111"), ("1", "222222222222")]


def test_the_cli_imports_no_rich_until_a_terminal_asks() -> None:
    code = "import sys, lit.cli, lit.progress, lit.build, lit.push, lit.bench, lit.plan; print('rich' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
