"""Model fetches against a server that misbehaves on purpose: bounded in size, memory and time,
patient with throttling and broken connections, and every failure a ModelError naming the cause."""

from __future__ import annotations

import hashlib
import http.server
import json
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lit_runtime import fetch
from lit_runtime.errors import ModelError

pytestmark = pytest.mark.functional
SIZE = 172_740  # the digits params file's size, as in the report


class Server(http.server.ThreadingHTTPServer):
    """Serves ROUTES: path -> a function(handler) that answers; counts the requests per path."""

    daemon_threads = True

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/m"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def body(data: bytes) -> Any:
    def answer(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return answer


@pytest.fixture()
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def publish(srv: Server, files: dict[str, bytes], sizes: dict[str, int] | None = None) -> str:
    """Serve a manifest for `files` (with `sizes` where given); returns its sha256."""
    table = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": (sizes or {}).get(name, len(data))}
        for name, data in files.items()
    }
    manifest = json.dumps({"files": table}).encode()
    srv.routes["/m/lit-manifest.json"] = body(manifest)
    return hashlib.sha256(manifest).hexdigest()


def test_an_object_far_larger_than_its_manifest_entry_is_stopped_without_filling_memory(server: Server) -> None:
    params = b"p" * SIZE
    sha = publish(server, {"w.params": params})

    def huge(h: Handler) -> None:  # 300 MB, chunked: no length to refuse it by up front
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        block = b"x" * (1024 * 1024)
        for _ in range(300):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        h.wfile.write(b"0\r\n\r\n")

    server.routes["/m/w.params"] = huge
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match=r"larger than the 172740 bytes its manifest gives: the download was stopped"):
        fetch.fetch(server.base, sha)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"peak memory grew {grown_mb:.0f} MB"
    server.routes["/m/w.params"] = _lying_length(300_000_000)
    with pytest.raises(ModelError, match=r"is 300,000,000 bytes, its manifest says 172,740.*none of it was downloaded"):
        fetch.fetch(server.base, sha)


def _lying_length(length: int) -> Any:
    def answer(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(length))
        h.end_headers()
        h.wfile.write(b"x" * 1024)

    return answer


def test_a_503_and_a_broken_connection_are_retried(server: Server) -> None:
    params = b"p" * SIZE
    sha = publish(server, {"w.params": params})
    answers = iter(["slow down", "cut", "ok"])

    def flaky(h: Handler) -> None:
        what = next(answers)
        if what == "slow down":
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif what == "cut":  # promises the whole file, sends a tenth, closes
            h.send_response(200)
            h.send_header("Content-Length", str(SIZE))
            h.end_headers()
            h.wfile.write(params[: SIZE // 10])
            h.wfile.flush()
            h.connection.close()
        else:
            body(params)(h)

    server.routes["/m/w.params"] = flaky
    target = fetch.fetch(server.base, sha)
    assert (target / "w.params").read_bytes() == params
    assert server.hits["/m/w.params"] == 3


def test_a_trickling_server_meets_the_deadline(server: Server) -> None:
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b"{")
            h.wfile.flush()
            time.sleep(1)

    server.routes["/m/lit-manifest.json"] = trickle
    t = time.monotonic()
    with pytest.raises(ModelError, match=r"took over 2 s .*Lambda's init phase is 10 s"):
        fetch.fetch(server.base, "0" * 64, deadline=2)
    assert time.monotonic() - t < 4


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"<html>not found</html>", "is not a LIT manifest"),
        (b'{"files": {}}', "names no files"),
        (b'{"files": {"../etc/passwd": {"sha256": "' + b"0" * 64 + b'", "size": 1}}}', "unsafe file"),
        (b'{"files": {"w": {"size": 1}}}', "has no sha256"),
    ],
)
def test_a_bad_manifest_is_a_model_error(server: Server, manifest: bytes, message: str) -> None:
    server.routes["/m/lit-manifest.json"] = body(manifest)
    with pytest.raises(ModelError, match=message):
        fetch.fetch(server.base, hashlib.sha256(manifest).hexdigest())


def test_a_missing_object_is_not_retried_and_names_it(server: Server) -> None:
    sha = publish(server, {"w.params": b"p" * 10})
    with pytest.raises(ModelError, match=r"GET .*/m/w.params: 404"):
        fetch.fetch(server.base, sha)
    assert server.hits["/m/w.params"] == 1
