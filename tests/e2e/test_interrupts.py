"""Interrupted and killed work: Ctrl-C during `lit build` exits 130 and says what is left; what a
killed build leaves (candidate tags, check containers) is removed by the next build. (Ctrl-C
during `lit push` and `lit deploy`: tests/e2e/test_aws.py and tests/functional/test_deploy.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lit.docker import Docker
from tests.e2e.conftest import Reader, copy_project, lit

pytestmark = pytest.mark.e2e


@pytest.fixture()
def project(digits_project: Path, tmp_path: Path, docker: Docker, digits_image: str):
    name = f"int-{uuid.uuid4().hex[:8]}"
    proj = copy_project(digits_project, tmp_path / name, name)
    docker.tag(digits_image, f"lit-{name}:latest")
    yield proj
    for ref in docker.references(f"lit-{name}") + docker.references(f"*/lit-{name}"):
        docker.remove_image(ref)
    for c in docker.containers(f"lit.check={name}"):
        docker.remove_container(c.id)


def start(*args: str) -> subprocess.Popen[str]:
    # stderr (the progress log) read line by line, stdout kept apart
    return subprocess.Popen(
        [sys.executable, "-m", "lit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


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
