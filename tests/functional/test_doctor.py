"""`lit doctor` and `lit scan` as users run them, where no Docker engine answers."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import assert_clean_failure, free_port, lit

pytestmark = pytest.mark.functional
NO_ENGINE = {
    "DOCKER_HOST": f"unix:///tmp/lit-no-engine-{uuid.uuid4().hex[:6]}.sock",
    "AWS_EC2_METADATA_DISABLED": "true",
}
NO_AWS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_DEFAULT_REGION": "", "AWS_REGION": ""}


def checks(stdout: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_no_engine_is_a_failed_check_that_names_the_fix(digits_model: Path) -> None:
    started = time.monotonic()
    proc = lit("doctor", str(digits_model), env={**NO_ENGINE, **NO_AWS})
    assert time.monotonic() - started < 30
    assert_clean_failure(proc, 1, "docker engine")
    assert "fail  docker engine" in proc.stdout and "systemctl start docker" in proc.stdout
    assert "ok    lit.toml" in proc.stdout  # what needs no engine is still checked

    found = checks(lit("doctor", str(digits_model), "--json", env={**NO_ENGINE, **NO_AWS}).stdout)
    assert found["docker engine"]["status"] == "fail" and "DOCKER_HOST" in found["docker engine"]["fix"]
    assert "base image" not in found  # nothing that needs the engine is claimed either way
    # no AWS set-up is a warning (only the AWS commands need it), never a crash
    assert found["aws credentials"]["status"] == "warn" and "no AWS credentials" in found["aws credentials"]["detail"]
    assert found["aws region"]["status"] == "warn" and "AWS_REGION" in found["aws region"]["fix"]


def test_bad_lit_toml_is_a_failed_check(tmp_path: Path) -> None:
    (tmp_path / "lit.toml").write_text("name = 'x'\n[model\n")
    proc = lit("doctor", str(tmp_path), "--json", env=NO_ENGINE)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    found = checks(proc.stdout)
    assert found["lit.toml"]["status"] == "fail" and "not valid TOML" in found["lit.toml"]["detail"]
    assert found["lit.toml"]["fix"]

    (tmp_path / "lit.toml").write_text('name = "x"\n[model]\npath = "model"\nepochs = 3\n')
    found = checks(lit("doctor", str(tmp_path), "--json", env=NO_ENGINE).stdout)
    assert found["lit.toml"]["status"] == "fail" and "epochs" in found["lit.toml"]["detail"]


def test_unreachable_aws_is_a_warning_within_seconds(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    proc = lit("doctor", "--json", env={**NO_ENGINE, "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": closed})
    assert time.monotonic() - started < 20
    found = checks(proc.stdout)
    assert found["aws credentials"]["status"] == "warn" and "cannot reach" in found["aws credentials"]["detail"]
    assert found["aws region"] == {"name": "aws region", "status": "ok", "detail": "eu-west-1", "fix": ""}


def test_aws_identity_against_moto(moto_server: str) -> None:
    found = checks(lit("doctor", "--json", env={**NO_ENGINE, "AWS_ENDPOINT_URL": moto_server}).stdout)
    assert found["aws credentials"]["status"] == "ok" and "123456789012" in found["aws credentials"]["detail"]


def test_scan_without_engine_or_with_a_bad_project(tmp_path: Path) -> None:
    assert_clean_failure(lit("scan", "lit-base:py3.11", env=NO_ENGINE), 3, "Docker engine is not running")
    (tmp_path / "lit.toml").write_text("name = 'x'\n[model\n")
    assert_clean_failure(lit("scan", str(tmp_path), env=NO_ENGINE), 2, "not valid TOML")


@pytest.mark.parametrize("command", ["scan", "doctor"])
def test_help_and_json(command: str) -> None:
    # (tests/functional/test_cli.py's COMMANDS also checks the README row, once it is written)
    proc = lit(command, "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout and "--json" in proc.stdout


def test_buildkit_forced_without_buildx_is_a_failed_builder_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from lit import doctor
    from lit.docker import Docker

    docker = Docker()
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    assert doctor.check_builder(docker).status == "ok"
    monkeypatch.setenv("DOCKER_BUILDKIT", "1")
    has_buildx = subprocess.run([docker.binary, "buildx", "version"], capture_output=True).returncode == 0
    check = doctor.check_builder(docker)
    if has_buildx:
        assert check.status == "warn" and "BuildKit" in check.detail
    else:
        assert check.status == "fail" and "buildx plugin is not installed" in check.detail
        assert "unset DOCKER_BUILDKIT" in check.fix
