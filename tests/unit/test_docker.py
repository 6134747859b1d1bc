"""How the Docker client reads the docker CLI: each failure of the CLI itself becomes one EngineError.

The docker here is a small shell script (LIT_DOCKER) that answers as the real CLI does; the real
engine is the e2e tier's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit.docker import Docker, Publish, RunSpec, TimedOut
from lit.errors import EngineError

pytestmark = pytest.mark.unit

NO_ENGINE = (
    "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?' >&2; exit 1"
)


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Docker:
    script = tmp_path / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("LIT_DOCKER", str(script))
    return Docker()


def test_an_engine_that_is_not_running_is_not_a_missing_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = fake_docker(tmp_path, monkeypatch, NO_ENGINE)
    calls = (
        lambda: docker.image("x"),
        lambda: docker.pull("x"),
        lambda: docker.inspect_container("x"),
        lambda: docker.logs("x"),
        lambda: docker.remove_image("x"),
        lambda: docker.ping(),
        lambda: docker.build(tmp_path, "x"),
        lambda: docker.push("x"),
        lambda: docker.login("registry.example", "u", "p"),
    )
    for call in calls:
        with pytest.raises(EngineError, match="the Docker engine is not running") as caught:
            call()
        assert "systemctl start docker" in caught.value.fix


def test_docker_run_prefixes_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = fake_docker(tmp_path, monkeypatch, "echo \"docker: error during connect: Head 'http://x'\" >&2; exit 125")
    with pytest.raises(EngineError, match="the Docker engine is not running"):
        docker.remove_container("x")


def test_missing_images_and_containers_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = fake_docker(tmp_path, monkeypatch, "echo 'Error: No such object: x' >&2; exit 1")
    assert docker.image("x") is None
    assert docker.inspect_container("x") is None
    assert docker.pull("x") is False
    assert docker.logs("x") == "Error: No such object: x\n"
    docker.remove_image("x")
    docker.remove_container("x")
    with pytest.raises(EngineError, match=r"`docker history --no-trunc` failed: Error: No such object: x"):
        docker.history("x")


def test_no_docker_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIT_DOCKER", str(tmp_path / "no-docker"))
    docker = Docker()
    calls = (
        lambda: docker.image("x"),
        lambda: docker.ping(),
        lambda: docker.build(tmp_path, "x"),
        lambda: next(docker.follow_logs("x")),
        lambda: docker.save("x").__enter__(),
    )
    for call in calls:
        with pytest.raises(EngineError, match="the docker command is not installed"):
            call()


def test_a_command_that_does_not_answer_in_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # exec: the timeout kills the process that holds the pipes, as it would the docker CLI
    docker = fake_docker(tmp_path, monkeypatch, "exec sleep 30")
    with pytest.raises(TimedOut, match="the Docker engine did not answer within 0s"):
        docker.ping(timeout=0.2)
    with pytest.raises(TimedOut, match=r"`docker info` did not answer within 0s"):
        docker.info(timeout=0.2)


def test_run_once_returns_the_containers_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = """case "$1" in
  version) echo 28.2.2 ;;
  run) echo 'out'; echo 'OSError: error during connect to the model store' >&2; exit 1 ;;
esac"""
    docker = fake_docker(tmp_path, monkeypatch, answers)
    proc = docker.run_once(RunSpec("img", ("-c", "x")))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "out\n",
        "OSError: error during connect to the model store\n",
    )


def test_run_once_over_its_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = fake_docker(tmp_path, monkeypatch, 'case "$1" in version) echo 28.2.2 ;; *) exec sleep 30 ;; esac')
    with pytest.raises(TimedOut, match="a container of img ran over 0 s") as caught:
        docker.run_once(RunSpec("img"), timeout=0.2)
    assert "docker ps" in caught.value.fix


def test_a_run_spec_is_docker_run_flags() -> None:
    spec = RunSpec(
        "img",
        ("-c", "print(1)"),
        remove=True,
        network="none",
        entrypoint="/opt/lit/bin/python",
        memory_mb=1024,
        cpus=0.579,
        volumes={"/host/events": "/e:ro"},
        env={"A": "1", "B": "x=y"},
        labels={"lit.check": "digits"},
    )
    assert spec.flags() == [
        *("--rm", "--network", "none", "--memory=1024m", "--cpus=0.579", "--entrypoint", "/opt/lit/bin/python"),
        *("-v", "/host/events:/e:ro", "-e", "A=1", "-e", "B=x=y", "--label", "lit.check=digits"),
    ]
    assert RunSpec("img").flags() == []
    assert str(Publish(8080)) == "127.0.0.1::8080" and str(Publish(8080, 9000, "0.0.0.0")) == "0.0.0.0:9000:8080"


def test_run_and_run_once_hand_docker_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said = tmp_path / "argv"
    docker = fake_docker(
        tmp_path, monkeypatch, f'case "$1" in version) echo 28.2.2 ;; *) echo "$@" >> {said}; echo c0ffee ;; esac'
    )
    spec = RunSpec("img", ("a", "b"), name="n", network="none")
    assert docker.run(spec) == "c0ffee"
    assert docker.run_once(spec, timeout=10).stdout == "c0ffee\n"
    assert said.read_text().splitlines() == [
        "run -d --name n --network none img a b",
        "run --rm --name n --network none img a b",
    ]


def test_the_image_check_runs_offline_at_the_functions_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digits_stub: Path
) -> None:
    from lit import build, project

    said = tmp_path / "argv"
    docker = fake_docker(tmp_path, monkeypatch, f'case "$1" in version) echo 28.2.2 ;; *) echo "$@" > {said} ;; esac')
    build.check(docker, "lit-digits:building-1", project.load(digits_stub))
    assert said.read_text().split() == [
        *("run", "--rm", "--platform", "linux/amd64", "--network", "none", "--memory=1024m"),
        *("--entrypoint", "/opt/lit/bin/python", "-e", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024"),
        *("-e", "LIT_CHECK_OFFLINE=1", "--label", "lit.check=digits"),
        *("lit-digits:building-1", "-m", "lit_runtime.check"),
    ]
