"""Interrupted and killed work: Ctrl-C during `lit build` and `lit base build`, at any moment,
exits 130 and says what is left; what a killed build leaves (candidate tags, check containers) is
removed by the next build. (Ctrl-C during `lit push` and `lit deploy`: tests/e2e/test_aws.py and
tests/functional/test_deploy.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from lit.docker import Docker
from tests.conftest import interrupt_at, spread
from tests.e2e.conftest import Reader, copy_project, lit
from tests.e2e.conftest import start_lit as start

pytestmark = pytest.mark.e2e


@pytest.fixture()
def project(digits_project: Path, tmp_path: Path, docker: Docker, digits_image: str):
    name = f"int-{uuid.uuid4().hex[:8]}"
    proj = copy_project(digits_project, tmp_path / name, name)
    docker.tag(digits_image, f"lit-{name}:latest")
    yield proj
    for ref in docker.references(f"lit-{name}") + docker.references(f"*/lit-{name}"):
        docker.remove_image(ref)
    # what an interrupted build's engine committed untagged; LIT's next build of the project removes it
    for image_id in docker.dangling(f"lit.function={name}"):
        docker.remove_image(image_id)
    for c in docker.containers(f"lit.check={name}"):
        docker.remove_container(c.id)


def test_the_next_build_removes_what_killed_builds_left(
    project: Path, docker: Docker, digits_image: str, base_image: tuple[str, str]
) -> None:
    name = project.name
    dead = f"lit-{name}:building-999999-deadbeef"  # no such process
    old_style = f"lit-{name}:building-abcd1234"
    live = f"lit-{name}:building-{os.getpid()}-cafef00d"  # a build still running (this process)
    for ref in (dead, old_style, live):
        docker.tag(digits_image, ref)
    created = subprocess.run(
        ["docker", "create", "--label", f"lit.check={name}", digits_image], capture_output=True, text=True, check=True
    ).stdout.strip()
    lit("build", str(project), "--base", base_image[0])
    left = set(docker.references(f"lit-{name}:building-*"))
    assert left == {live}, left
    assert docker.inspect_container(created) is None, "the check container left in state Created is gone"
    docker.remove_image(live)


def test_ctrl_c_during_build_exits_130_and_leaves_the_image_unchanged(
    project: Path, docker: Docker, base_image: tuple[str, str]
) -> None:
    before = docker.image(f"lit-{project.name}:latest")["Id"]
    (project / "labels.txt").write_text((project / "labels.txt").read_text() + "\n")  # a real change to build
    proc = start("build", str(project), "--base", base_image[0])
    stderr = Reader(proc, "stderr")
    stderr.until("checking the image", timeout=300)
    proc.send_signal(signal.SIGINT)
    err = stderr.rest()
    assert proc.wait(timeout=60) == 130, err
    assert f"lit-{project.name}:latest is unchanged (still {before.removeprefix('sha256:')[:12]})" in err
    assert "Traceback" not in err and "run `lit build` again" in err
    assert docker.image(f"lit-{project.name}:latest")["Id"] == before
    assert not docker.references(f"lit-{project.name}:building-*")


def test_ctrl_c_at_any_moment_of_a_build_exits_130_and_says_what_is_left(
    project: Path, docker: Docker, base_image: tuple[str, str]
) -> None:
    """SIGINT at 10 moments spread over a build (from 0.05 s: Python's start, the CLI's, the engine
    check, docker build, the image check, the tagging), and at 3 with SIGINT ignored at start (a
    script's background job): exit 130 every time with a message, never 0 and never a blame on the
    engine or on memory; the old tag stays unless the message says the build had finished."""
    labels = project / "labels.txt"
    build = ["build", str(project), "--base", base_image[0]]

    def change() -> None:  # a real change, so that each build makes a new image
        labels.write_text(labels.read_text() + "\n")

    change()
    t = time.monotonic()
    lit(*build)
    duration = time.monotonic() - t
    moments = [(d, False) for d in spread(duration)] + [(d, True) for d in (0.2, duration / 2, 0.8 * duration)]
    ended = 0
    for delay, ignored in moments:
        before = docker.image(f"lit-{project.name}:latest")["Id"]
        change()
        code, err = interrupt_at(build, delay, ignored)
        said = f"SIGINT at {delay:.2f} s{' (ignored at start)' if ignored else ''}: {err[-600:]}"
        # quicker than the one timed, it had ended (or was ending: the signal then lands on a process
        # the kernel is tearing down) before the moment: no interrupt to check
        if code is None or (code == 0 and delay >= 0.7 * duration):
            ended += 1
            continue
        assert code == 130, said
        assert "error: interrupted" in err and "Traceback" not in err, said
        assert "engine" not in err.split("error: interrupted")[-1] and "memory" not in err, said
        after = docker.image(f"lit-{project.name}:latest")["Id"]
        if "build finished" in err:
            assert after != before, said
        else:
            assert after == before, said
    assert ended <= 2, f"{ended} of {len(moments)} builds ended before their moment"
    assert not docker.references(f"lit-{project.name}:building-*")
    assert not docker.containers(f"lit.check={project.name}")


def test_ctrl_c_during_a_base_build_exits_130_and_keeps_the_old_tag(
    docker: Docker, base_image: tuple[str, str]
) -> None:
    tag = f"lit-base:int-{uuid.uuid4().hex[:8]}"
    build = ["base", "build", "--tag", tag]
    try:
        for delay in (0.1, 0.5, 1.5):
            code, err = interrupt_at(build, delay)
            assert code == 130 and "error: interrupted" in err and "Traceback" not in err, err[-600:]
            if "build finished" not in err:
                assert docker.image(tag) is None, err[-600:]
    finally:
        docker.remove_image(tag)
        from lit import base

        base.sweep(docker, "mxnet")  # what the engine committed untagged after the CLI went (the next base build would)


def test_untagged_images_an_interrupted_build_committed_are_swept(
    project: Path, docker: Docker, digits_image: str, tmp_path: Path
) -> None:
    """The engine may commit a build's image as its client is interrupted, too late to tag it: the
    interrupt path and the next build remove the function's untagged images (the next build only
    those over a minute old, so that a concurrent build's image is not taken before its tag)."""
    from lit import build
    from lit.project import load

    # an image of the function, left untagged as a build leaves it: its tag moved to another image
    (tmp_path / "Dockerfile").write_text(f"FROM {digits_image}\nLABEL lit.function={project.name} x={uuid.uuid4()}\n")
    docker.build(tmp_path, f"lit-{project.name}:sweep-a")
    left = docker.image(f"lit-{project.name}:sweep-a")["Id"]
    docker.tag(digits_image, f"lit-{project.name}:sweep-a")  # the tag moves: `left` is untagged, as a build leaves it
    assert left in docker.dangling(f"lit.function={project.name}")
    fn = load(project)
    assert build.sweep(docker, fn, older_than=60) == [], "a minute's grace for a concurrent build's untagged image"
    assert build.sweep(docker, fn) == [left]
    assert docker.image(left) is None
    assert docker.image(f"lit-{project.name}:latest") is not None, "tagged images stay"


def test_untagged_bases_an_interrupted_base_build_committed_are_swept(docker: Docker, tmp_path: Path) -> None:
    """The base build's interrupt path and the next base build remove the engine's untagged base
    images; function images (lit.function) and build stages (lit.stage) are not bases."""
    from lit import base
    from lit.base import BOOTSTRAP_TAG

    made = {}
    for kind, labels in {
        "base": "lit.engine=mxnet lit.runtime=sweep-test",
        "function": "lit.engine=mxnet lit.runtime=sweep-test lit.function=sweep-test",
        "stage": "lit.engine=mxnet lit.runtime=sweep-test lit.stage=base-build",
    }.items():
        (tmp_path / "Dockerfile").write_text(f"FROM {BOOTSTRAP_TAG}\nLABEL {labels} x={uuid.uuid4()}\n")
        tag = f"lit-sweep-test-{uuid.uuid4().hex[:8]}:{kind}"
        docker.build(tmp_path, tag)
        made[kind] = docker.image(tag)["Id"]
        docker.tag(BOOTSTRAP_TAG, tag)  # the tag moves away: the image is left untagged, as a build leaves it
    try:
        assert set(made.values()) <= set(docker.dangling("lit.engine=mxnet", "lit.runtime"))
        assert made["base"] not in base.sweep(docker, "mxnet", older_than=60), "a minute's grace"
        assert made["base"] in base.sweep(docker, "mxnet")
        assert docker.image(made["base"]) is None
        assert docker.image(made["function"]) is not None and docker.image(made["stage"]) is not None
    finally:
        for image_id in made.values():
            docker.remove_image(image_id)
        for ref in docker.references("lit-sweep-test-*"):
            docker.remove_image(ref)
