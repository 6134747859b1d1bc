"""Graviton: the digits example built for arm64 and run through the RIE under QEMU emulation on
this x86 host; its pushed manifest; a deploy whose image does not match lit.toml is refused.

The arm64 base keeps its default tag (lit-base:py3.11-arm64) after the tests, as the cache that
keeps later runs in seconds: it is built here only when missing or carrying another runtime.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit import arch, prices
from lit.base import default_tag, require
from lit.docker import Docker, RunSpec
from lit.errors import LitError
from tests.conftest import heldout
from tests.e2e.conftest import RUN_ID, copy_project, lit, remove_stages_since
from tests.e2e.registry import blob, manifest

pytestmark = pytest.mark.e2e
INVOKE = "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"


def set_architecture(project: Path, architecture: str) -> None:
    config = project / "lit.toml"
    text = config.read_text()
    if "architecture = " in text:
        text = "\n".join(line for line in text.splitlines() if not line.startswith("architecture = ")) + "\n"
    config.write_text(text.replace("[function]\n", f'[function]\narchitecture = "{architecture}"\n'))


@pytest.fixture(scope="module")
def arm64_base(docker: Docker) -> str:
    if (problem := arch.emulation_problem("arm64")) is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the arm64 tests under emulation: {problem} ({arch.emulation_fix('arm64')})")
        pytest.skip(f"arm64 containers cannot run here: {problem}")
    tag = default_tag("mxnet", "arm64")
    try:
        require(docker, tag, "mxnet", "arm64")  # present, arm64, and carrying this runtime: kept as is
    except LitError:
        started = time.time()
        out = json.loads(lit("base", "build", "--arch", "arm64", "-q", "--json", timeout=3600).stdout)
        assert out["image"] == tag and out["architecture"] == "arm64"
        remove_stages_since(docker, started)  # the base stays, as the cache of later runs; its stage goes
    return tag


@pytest.fixture(scope="module")
def arm_project(
    docker: Docker, arm64_base: str, digits_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The digits example with [function] architecture = "arm64", built (on the default arm64 base)."""
    name = f"arm-t{RUN_ID}"
    project = copy_project(digits_project, tmp_path_factory.mktemp("arm") / name, name)
    set_architecture(project, "arm64")
    lit("build", str(project), "-q", "--json", timeout=1800)
    yield project
    docker.remove_image(f"lit-{name}:latest")
    for ref in docker.references(f"*/lit-{name}"):  # the registry tags `lit push` made
        docker.remove_image(ref)


def test_a_bootstrapped_os_layer_records_the_architecture_of_its_files(docker: Docker) -> None:
    """For this machine's architecture (a foreign one takes minutes: the arm64 base's own OS layer
    is the test of that): built, not imported, so the config says what the files are."""
    from lit import base

    tag = f"lit-os:test-{RUN_ID}"
    try:
        base.bootstrap_os(docker, tag, arch.host(), lambda _: None)
        info = docker.image(tag) or {}
        assert arch.of_image(info) == arch.host() and "LANG=C.UTF-8" in info["Config"]["Env"]
        command = ("python3", "-c", "import platform, venv; print(platform.machine())")
        proc = docker.run_once(RunSpec(tag, command, network="none"))
        assert arch.name(proc.stdout.strip()) == arch.host(), proc.stderr
    finally:
        docker.remove_image(tag)


def test_the_base_and_function_images_are_arm64_and_carry_the_arm64_rie(docker: Docker, arm_project: Path) -> None:
    for ref in (default_tag("mxnet", "arm64"), f"lit-arm-t{RUN_ID}:latest"):
        info = docker.image(ref) or {}
        assert (info.get("Architecture"), info.get("Os")) == ("arm64", "linux"), ref
    spec = RunSpec(
        f"lit-arm-t{RUN_ID}:latest",
        ("-c", "uname -m; head -c 20 /usr/local/bin/aws-lambda-rie | od -An -tx1 | tr -d ' \\n'"),
        platform="linux/arm64",
        network="none",
        entrypoint="/bin/sh",
    )
    proc = docker.run_once(spec)
    machine, header = proc.stdout.split()
    assert machine == "aarch64" and header[36:40] == "b700", "the RIE in the image is an aarch64 binary"


def test_the_arm64_function_reads_held_out_digits_under_emulation(arm_project: Path, running) -> None:
    port = running(arm_project)
    cases = heldout(arm_project)
    right = 0
    for path, label in cases:
        event = json.dumps({"image": base64.b64encode(path.read_bytes()).decode()}).encode()
        req = urllib.request.Request(INVOKE.format(port=port), data=event, method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:
            answer = json.loads(resp.read())
        right += int(answer["predictions"][0][0]["label"]) == label
    accuracy = right / len(cases)
    print(f"arm64 under emulation: held-out accuracy {accuracy:.4f} on {len(cases)} PNG digits")
    assert accuracy >= 0.95

    proc = lit("invoke", str(arm_project), "--image", str(cases[0][0]))
    assert json.loads(proc.stdout)["predictions"][0][0]["label"] == str(cases[0][1])
    assert "under emulation" in proc.stderr and "timings say nothing about Lambda" in proc.stderr
    assert "over Lambda's 10 s limit" not in proc.stderr, "an emulated init is no measure of Lambda's"


def test_bench_under_emulation_reports_answers_memory_and_price_but_no_timings(arm_project: Path) -> None:
    proc = lit("bench", str(arm_project), "--warm", "10", timeout=1800)
    assert "11/11" in proc.stdout and "per GB-second" in proc.stdout and "p99" not in proc.stdout
    saved = json.loads((arm_project / ".lit" / "bench.json").read_text())
    assert saved["architecture"] == "arm64" and "emulation" in saved["emulation"]
    assert saved["price_gb_second"] == prices.GB_SECOND["arm64"]
    (result,) = saved["results"]
    assert (result["answered"], result["invokes"], result["error"]) == (11, 11, "")
    assert result["max_memory_mb"] > 0
    assert result["warm_samples_ms"] == [] and result["cold"] is None and result["cost_per_million"] == 0
    assert saved["recommended"] is None

    refused = lit("plan", str(arm_project), "--rps", "10", check=False)
    assert refused.returncode != 0 and "under emulation" in refused.stderr and "arm64 machine" in refused.stderr


def test_doctor_checks_the_architecture_and_the_image_under_emulation(arm_project: Path) -> None:
    out = json.loads(lit("doctor", str(arm_project), "--json", check=False, timeout=1800).stdout)
    checks = {c["name"]: c for c in out["checks"]}
    assert checks["architecture"]["status"] == "warn" and "emulation" in checks["architecture"]["detail"]
    assert checks["image contract"]["status"] == "ok" and "arm64" in checks["image contract"]["detail"]
    assert checks["model"]["status"] == "ok"


def test_push_sends_one_arm64_manifest_and_a_mismatched_deploy_is_refused(
    aws: str, registry: dict, arm_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    out = json.loads(lit("push", str(arm_project), "--tag", "arm", "--json").stdout)
    assert out["architecture"] == "arm64"
    digest, doc = manifest(registry, out["repository"], "arm")
    assert digest == out["digest"]
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", "one platform: no index"
    config = json.loads(blob(registry, out["repository"], doc["config"]["digest"]))
    assert (config["architecture"], config["os"]) == ("arm64", "linux")

    # lit.toml now says x86_64, the pushed image is arm64: the push says so, the deploy refuses
    set_architecture(arm_project, "x86_64")
    try:
        again = lit("push", str(arm_project), "--tag", "arm")
        refused = lit("deploy", str(arm_project), check=False)
    finally:
        set_architecture(arm_project, "arm64")
    assert "is arm64 but lit.toml's [function] architecture is x86_64" in again.stderr
    assert refused.returncode == 2, refused.stderr
    assert "is an arm64 image, but lit.toml's [function] architecture is x86_64" in refused.stderr
    lam = boto3.client("lambda", region_name="us-east-1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"arm-t{RUN_ID}")

    # matched, it deploys with Architectures=["arm64"]
    deployed = json.loads(lit("deploy", str(arm_project), "--json").stdout)
    assert deployed["version"] == "1"
    assert lam.get_function(FunctionName=f"arm-t{RUN_ID}")["Configuration"]["Architectures"] == ["arm64"]
    lit("destroy", str(arm_project), "--repository")
