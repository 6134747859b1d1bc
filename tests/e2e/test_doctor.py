"""`lit doctor` on a real engine: the digits project passes; an image whose CMD names no handler fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit.docker import Docker
from tests.conftest import free_port
from tests.e2e.conftest import RUN_ID, copy_project, lit

pytestmark = pytest.mark.e2e


@pytest.fixture()
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_doctor_passes_on_the_digits_project(
    base_image: tuple[str, str], digits_project: Path, digits_image: str, offline_aws: None
) -> None:
    proc = lit("doctor", str(digits_project), "--base", base_image[0], "--json")
    report = json.loads(proc.stdout)
    found = {c["name"]: c for c in report["checks"]}
    assert report["ok"] and proc.returncode == 0
    for name in ("docker engine", "builder", "base image", "lambda rie", "lit.toml", "image contract", "model"):
        assert found[name]["status"] == "ok", found[name]
    assert digits_image in found["image contract"]["detail"]
    assert found["aws credentials"]["status"] == "warn"  # offline: unverified, not a failure

    text = lit("doctor", str(digits_project), "--base", base_image[0]).stdout
    assert "ok    image contract" in text and "0 failed" in text


def test_doctor_fails_an_image_whose_cmd_names_no_handler(
    docker: Docker,
    base_image: tuple[str, str],
    digits_project: Path,
    digits_image: str,
    tmp_path: Path,
    offline_aws: None,
) -> None:
    name = f"nocmd-t{RUN_ID}"
    project = copy_project(digits_project, tmp_path / "nocmd", name)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f'FROM {digits_image}\nCMD ["service_typo.handler"]\n')
    tag = f"lit-{name}:latest"
    try:
        docker.build(ctx, tag)
        proc = lit("doctor", str(project), "--base", base_image[0], "--json", check=False)
        assert proc.returncode == 1 and "fix:" in proc.stderr
        found = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
        contract = found["image contract"]
        assert contract["status"] == "fail" and "service_typo" in contract["detail"] and contract["fix"]
    finally:
        docker.remove_image(tag)
