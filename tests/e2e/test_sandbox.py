"""`lit run` behaves like Lambda: read-only root, /tmp sized to ephemeral storage, a non-root
user, the timeout enforced, a slow init reported as Lambda reports it, and --concurrency N."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit.docker import Docker
from tests.conftest import FIXTURES, free_port
from tests.e2e.conftest import RUN_ID, copy_project, lit

pytestmark = pytest.mark.e2e
INVOKE = "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"


def sleep_event(seconds: float) -> str:
    return json.dumps({"image": base64.b64encode(f"sleep:{seconds}".encode()).decode()})


def post(port: int, body: str) -> tuple[int, bytes]:
    status, raw, _ = post_with_headers(port, body)
    return status, raw


def post_with_headers(port: int, body: str) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(INVOKE.format(port=port), data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers.items())


@pytest.fixture(scope="module")
def probe(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    project = copy_project(digits_project, tmp_path_factory.mktemp("probe") / "probe", f"probe-t{RUN_ID}")
    shutil.copy(FIXTURES / "services" / "sandbox_probe.py", project / "service.py")
    config = project / "lit.toml"
    config.write_text(config.read_text().replace("timeout = 30", "timeout = 2\nephemeral_storage = 600"))
    image = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)["image"]
    yield project
    lit("stop", str(project), check=False)
    docker.remove_image(image)


def test_sandbox_is_read_only_but_tmp_and_runs_unprivileged(probe: Path) -> None:
    port = free_port()
    lit("run", str(probe), "--port", str(port))
    status, raw = post(port, sleep_event(0))
    facts = json.loads(raw)["predictions"][0]
    assert status == 200, raw
    assert facts["uid"] == 993 and facts["gid"] == 990, "Lambda runs functions as sbx_user1051 (993:990)"
    assert facts["/var/task"] == "EROFS" and facts["/opt"] == "EROFS"
    assert facts["/tmp"] == "writable" and 590 <= facts["tmp_mb"] <= 610, facts
    assert facts["cap_bounding"] == 0, "no capabilities, as on Lambda"
    assert facts["no_new_privs"] == 1 and facts["pids_max"] == "1024", facts

    # over Lambda's 6 MB, straight to the emulator (no endpoint in front of one instance): the RIE
    # cuts the body off, and the runtime says what Lambda would, naming the limit
    status, raw, _ = post_with_headers(port, json.dumps({"image": "A" * (7 * 2**20)}))
    answer = json.loads(raw)
    assert answer["errorType"] == "RequestEntityTooLargeException" and "6291456 bytes" in answer["errorMessage"]
    assert json.loads(post(port, sleep_event(0))[1])["predictions"][0]["uid"] == 993, "still serving"

    # the escape hatch keeps the old, permissive container
    lit("run", str(probe), "--port", str(port), "--no-sandbox")
    facts = json.loads(post(port, sleep_event(0))[1])["predictions"][0]
    assert facts["uid"] == 0 and facts["/var/task"] == "writable"


def test_lit_stop_and_run_leave_other_tools_containers_of_the_image_alone(docker: Docker, probe: Path) -> None:
    """Containers inherit the image's lit.function label: SAM's warm container (here, one docker
    run) carries it too, and is not LIT's to remove."""
    import subprocess

    other = subprocess.run(
        ["docker", "run", "-d", "--entrypoint", "sleep", f"lit-probe-t{RUN_ID}:latest", "300"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        assert docker.inspect_container(other)["Config"]["Labels"]["lit.function"] == f"probe-t{RUN_ID}"
        port = free_port()
        lit("run", str(probe), "--port", str(port))
        lit("run", str(probe), "--port", str(port))  # replaces LIT's own container only
        removed = json.loads(lit("stop", str(probe), "--json").stdout)["removed"]
        assert len(removed) == 1
        assert docker.inspect_container(other)["State"]["Running"], "the other tool's container still runs"
    finally:
        docker.remove_container(other)


def test_timeout_is_enforced_and_answered_as_lambda_does(probe: Path) -> None:
    port = free_port()
    lit("run", str(probe), "--port", str(port))
    proc = lit("invoke", str(probe), "--data", sleep_event(3), "--json", check=False)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["function_error"] is True
    assert out["payload"]["errorType"] == "Sandbox.Timedout"
    assert "timed out after 2.00 seconds" in out["payload"]["errorMessage"]
    # the environment is reset and the next request is served
    status, raw = post(port, sleep_event(0))
    assert status == 200 and json.loads(raw)["predictions"][0]["uid"] == 993


def test_concurrency_serves_n_at_once_and_throttles_the_rest(docker: Docker, probe: Path) -> None:
    port = free_port()
    out = json.loads(lit("run", str(probe), "--port", str(port), "--concurrency", "2", "--json").stdout)
    assert len(out["instances"]) == 2 and out["port"] == port
    containers = docker.containers(f"lit.run=probe-t{RUN_ID}")
    assert len(containers) == 3  # two instances and the endpoint in front of them
    for c in containers:
        info = docker.inspect_container(c.id) or {}
        for binding in (info["HostConfig"].get("PortBindings") or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in binding)

    results: list[tuple[int, bytes, dict[str, str]]] = []
    threads = [
        threading.Thread(target=lambda: results.append(post_with_headers(port, sleep_event(1.2)))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _, _ in results) == [200, 200, 429], results
    served_by = {headers["x-lit-instance"] for status, _, headers in results if status == 200}
    assert served_by == {str(p) for p in out["instances"]}, "each instance serves one request at a time"
    throttled = next(json.loads(raw) for status, raw, _ in results if status == 429)
    assert "busy" in throttled["message"]

    # `lit invoke` goes through the same endpoint and still finds the serving instance's REPORT
    proc = lit("invoke", str(probe), "--data", sleep_event(0), "--json")
    report = json.loads(proc.stdout)["report"]
    assert report["duration_ms"] > 0 and report["memory_size_mb"] == 1024

    # over Lambda's 6 MB: the endpoint answers 413 naming the limit, as Lambda does; so does lit invoke
    big = json.dumps({"image": "A" * (7 * 2**20)})
    status, raw, headers = post_with_headers(port, big)
    assert status == 413 and "6291456 bytes" in json.loads(raw)["message"], raw[:300]
    assert headers.get("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    (probe / "big.json").write_text(big)
    proc = lit("invoke", str(probe), "--event", str(probe / "big.json"), check=False)
    assert proc.returncode == 1 and "6 MB" in proc.stderr and "413" in proc.stderr and "fix:" in proc.stderr

    # one keep-alive connection through the endpoint: several requests, each answered whole
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(5):
        conn.request("POST", "/2015-03-31/functions/function/invocations", sleep_event(0))
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["predictions"][0]["uid"] == 993
    conn.close()

    removed = json.loads(lit("stop", str(probe), "--json").stdout)["removed"]
    assert len(removed) == 3
    assert docker.containers(f"lit.run=probe-t{RUN_ID}") == []


def test_init_over_ten_seconds_is_reported_as_lambda_reports_it(
    docker: Docker, base_image: tuple[str, str], probe: Path, tmp_path: Path
) -> None:
    slow = copy_project(probe, tmp_path / "slow", f"slow-t{RUN_ID}")
    config = slow / "lit.toml"
    config.write_text(
        config.read_text().replace("timeout = 2", 'timeout = 30\nenvironment = { PROBE_INIT_SLEEP = "10.2" }')
    )
    image = json.loads(lit("build", str(slow), "--base", base_image[0], "--json").stdout)["image"]
    try:
        lit("run", str(slow), "--port", str(free_port()))
        proc = lit("invoke", str(slow), "--data", sleep_event(0))
        assert "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout" in proc.stderr
        assert "Phase: invoke\tStatus: success" in proc.stderr
        assert "over Lambda's 10 s limit" in proc.stderr
        # a warm invoke has no init to report
        proc = lit("invoke", str(slow), "--data", sleep_event(0), "--json")
        assert json.loads(proc.stdout)["init_report"] == []
    finally:
        lit("stop", str(slow), check=False)
        docker.remove_image(image)
