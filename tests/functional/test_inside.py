"""Code that runs inside the function's containers, run here as the modules they are: `lit run`'s
endpoint (lit_runtime.proxy) in front of stand-in instances, and `lit doctor`'s probe
(lit_runtime.probe) on modules written for the test."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.functional
PATH = "/2015-03-31/functions/function/invocations"


class Instance:
    """A stand-in for one RIE: answers {"port": ...} after the `sleep` the body asks for; with
    `reclaimed`, its next answer is the RIE's report of a runtime that ended itself when idle."""

    def __init__(self) -> None:
        self.reclaimed = b""
        self.busy = 0  # requests it is answering now
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if outer.reclaimed:
                    data, status, outer.reclaimed = outer.reclaimed, 502, b""
                else:
                    outer.busy += 1
                    time.sleep(body.get("sleep", 0))
                    outer.busy -= 1
                    data, status = json.dumps({"port": outer.port}).encode(), 200
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[tuple[int, list[Instance]]]:
    instances = [Instance(), Instance()]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lit_runtime.proxy", str(port), ",".join(str(i.port) for i in instances)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if not poll(lambda: listening(port), 20):
            proc.terminate()
            pytest.fail(f"the endpoint never listened on {port}: {proc.communicate(timeout=10)[1].decode()[-2000:]}")
        yield port, instances
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for instance in instances:
            instance.server.shutdown()


def listening(port: int) -> bool:
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        return True
    except OSError:
        return False


def poll(ready: Callable[[], bool], timeout: float) -> bool:
    """Whether `ready()` became true within `timeout` seconds (asked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.02)
    return ready()


def call(port: int, body: bytes, path: str = PATH) -> tuple[int, dict, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, body, {"content-type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw), {k.lower(): v for k, v in resp.getheaders()}


def test_the_endpoint_reuses_the_instance_used_last_and_throttles_when_all_are_busy(
    endpoint: tuple[int, list[Instance]],
) -> None:
    port, instances = endpoint
    status, first, headers = call(port, b"{}")
    assert status == 200 and headers["x-lit-instance"] == str(first["port"])
    assert all(call(port, b"{}")[1]["port"] == first["port"] for _ in range(5))  # warmest first, every time
    answers: list[tuple[int, dict, dict[str, str]]] = []
    slow = [threading.Thread(target=lambda: answers.append(call(port, b'{"sleep": 1.0}'))) for _ in range(2)]
    for thread in slow:
        thread.start()
    assert poll(lambda: all(i.busy for i in instances), 10), "both slow requests reached an instance"
    status, body, _ = call(port, b"{}")  # both instances busy
    assert status == 429 and "all 2 instances are busy" in body["message"]
    for thread in slow:
        thread.join()
    assert sorted(a[1]["port"] for a in answers) == sorted(i.port for i in instances)


def test_the_endpoint_refuses_what_lambda_refuses(endpoint: tuple[int, list[Instance]]) -> None:
    port, _ = endpoint
    status, body, headers = call(port, b"x" * (6 * 1024 * 1024 + 1))
    assert status == 413 and headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert call(port, b"{}", "/elsewhere")[0] == 404


def test_a_request_to_a_reclaimed_instance_is_sent_again_and_other_exits_are_not(
    endpoint: tuple[int, list[Instance]],
) -> None:
    port, _ = endpoint
    _, first, _ = call(port, b"{}")
    (warm,) = [i for i in endpoint[1] if i.port == first["port"]]
    report = b'{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: %s"}'
    warm.reclaimed = report % b"exit status 75"
    status, body, _ = call(port, b"{}")
    assert status == 200 and body["port"] == warm.port  # init ran again: a cold start, answered
    warm.reclaimed = report % b"signal: killed"  # a crash is the caller's to see
    status, body, _ = call(port, b"{}")
    assert status == 502 and body["errorType"] == "Runtime.ExitError"


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("svc.handler", "ok"),
        ("svc.predict", "ok"),  # an import that binds the name
        ("svc.nothing", "defines no 'nothing'"),
        ("missing.handler", "no module 'missing'"),
    ],
)
def test_the_probe_reads_the_handler_without_importing_it(tmp_path: Path, handler: str, expected: str) -> None:
    (tmp_path / "svc.py").write_text(
        "raise SystemExit('imported: the probe must not run init')\n"
        "from json import dumps as predict\n\ndef handler(event, context):\n    return event\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "lit_runtime.probe", handler, sys.executable],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert expected in out["handler"]
    assert out["rie"] is True and out["awslambdaric"] is True
    assert out["entrypoint"] == os.access("/lambda-entrypoint.sh", os.X_OK)
