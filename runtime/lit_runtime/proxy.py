"""One local endpoint in front of N warm containers (`lit run --concurrency N`).

Runs inside a container of the function's own image (`python -m lit_runtime.proxy`, started by
`lit run`) on the host's network, listening on 127.0.0.1:PORT, and sends each invocation to the idle
instance used last (each RIE serves one request at a time, as a Lambda execution environment does). With all N busy it answers as Lambda does when
concurrency is used up: 429 TooManyRequestsException. With `lit run --idle-reclaim`, an instance's
runtime ends itself when idle too long (lit_runtime.idle); the RIE reports that at the next request
(502 Runtime.ExitError, exit status 75) and runs init again when asked once more, so the request is
sent again: a cold start, as on Lambda. Standard library and this package's constants only (it
imports no model, engine or OpenCV).

    python -m lit_runtime.proxy PORT BACKEND_PORT[,BACKEND_PORT...]
"""

from __future__ import annotations

import http.client
import http.server
import json
import queue
import socket
import sys
from typing import Any

from .idle import RECLAIMED_EXIT
from .oversize import MAX_PAYLOAD

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
PASSED = ("content-type", "x-amz-function-error", "x-amz-log-result", "x-amz-executed-version")
RECLAIMED = f"exit status {RECLAIMED_EXIT}".encode()  # how the RIE words a runtime that ended itself when idle


def _send(backend: int, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", backend, timeout=960)
    try:
        conn.request("POST", INVOKE_PATH, body, {"content-type": "application/json"})
        resp = conn.getresponse()
        headers = {k: v for k, v in resp.getheaders() if k.lower() in PASSED}
        return resp.status, resp.read(), headers
    finally:
        conn.close()


def serve(port: int, backends: list[int]) -> None:
    idle: queue.LifoQueue[int] = queue.LifoQueue()  # the most recently used first, as Lambda reuses warm ones
    for backend in backends:
        idle.put(backend)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body leave in one write (two small writes meet delayed ACK)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_PAYLOAD:
                while length > 0:  # read and drop it, so the client hears the answer and may keep the connection
                    length -= len(self.rfile.read(min(length, 1 << 20)) or b"x" * length)
                message = f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation"
                return self._answer(
                    413, {"Type": "User", "message": message}, {"x-amzn-ErrorType": "RequestEntityTooLargeException"}
                )
            body = self.rfile.read(length)
            if self.path.split("?")[0] != INVOKE_PATH:
                return self._answer(404, {"message": f"no route {self.path}; invoke at {INVOKE_PATH}"}, {})
            try:
                backend = idle.get_nowait()
            except queue.Empty:
                message = f"Rate Exceeded: all {len(backends)} instances are busy (lit run --concurrency)"
                return self._answer(429, {"Type": "User", "message": message}, {})
            try:
                status, data, headers = _send(backend, body)
                if status == 502 and b"Runtime.ExitError" in data and RECLAIMED in data:
                    status, data, headers = _send(backend, body)  # reclaimed while idle: init runs now
            except OSError as exc:
                status, data, headers = 502, json.dumps({"message": f"instance {backend}: {exc}"}).encode(), {}
            finally:
                idle.put(backend)  # free again before the client can send its next request
            headers["x-lit-instance"] = str(backend)
            self._answer(status, data, headers)

        def _answer(self, status: int, data: bytes | dict[str, Any], headers: dict[str, str]) -> None:
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"lit proxy on 127.0.0.1:{port} -> {backends}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")])
