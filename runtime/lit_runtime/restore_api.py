"""SnapStart's lifecycle under the RIE, which has no restore API (`lit run --snapstart`).

The entrypoint runs this module in place of awslambdaric when LIT_SNAPSTART_EMULATE=1 and no real
Runtime API is given. It starts a small Runtime API of its own on 127.0.0.1 in a child process,
which forwards every call to the RIE's and answers the two the RIE lacks:
- `GET /2018-06-01/runtime/restore/next`: the "snapshot". Nothing is checkpointed (no process
  checkpointing works here); the restore follows at once, in the same process;
- `POST /2018-06-01/runtime/restore/error`: an after-restore hook failed. Passed on to the RIE as an
  init error of type Runtime.AfterRestoreError, so the pending invoke answers it (Lambda answers a
  SnapStartException), and the runtime exits, as on Lambda.
Then it becomes awslambdaric, pointed at that API with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start,
so the lifecycle runs through awslambdaric's own code: init, before-snapshot hooks, restore,
after-restore hooks, invokes. The child ends when the runtime does.

    python -m lit_runtime.restore_api HANDLER         (under the RIE)
    python -m lit_runtime.restore_api --serve UPSTREAM  (the child: prints its port)

Standard library only.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time

RESTORE_NEXT = "/2018-06-01/runtime/restore/next"
RESTORE_ERROR = "/2018-06-01/runtime/restore/error"
INIT_ERROR = "/2018-06-01/runtime/init/error"
ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def serve(upstream: str) -> None:
    host, port = upstream.rsplit(":", 1)
    parent = os.getppid()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # the function's log holds the runtime's lines only
            pass

        def do_GET(self) -> None:
            if self.path == RESTORE_NEXT:
                _note("snapshot", "init and before-snapshot hooks done; restoring at once (emulated)")
                self._answer(200, b"", {})
                return
            self._forward()

        def do_POST(self) -> None:
            if self.path == RESTORE_ERROR:
                self._forward(INIT_ERROR, {ERROR_TYPE: "Runtime.AfterRestoreError"})
                return
            self._forward()

        def _forward(self, path: str | None = None, override: dict[str, str] | None = None) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers.update(override or {})
            conn = http.client.HTTPConnection(host, int(port))  # no timeout: invocation/next waits for work
            try:
                conn.request(self.command, path or self.path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                self._answer(resp.status, data, {k: v for k, v in resp.getheaders() if k.lower() not in HOP})
            finally:
                conn.close()

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    os.dup2(2, 1)  # the port went to the parent's pipe; the notes go to the function's log

    def watch_parent() -> None:  # the runtime ended (or the RIE reset it): so does its API
        while os.getppid() == parent:
            time.sleep(0.2)
        server.shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever()


def _note(event: str, detail: str) -> None:
    print(json.dumps({"event": event, "emulated": True, "detail": detail}), flush=True)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--serve"]:
        serve(argv[1])
        return
    upstream = os.environ["AWS_LAMBDA_RUNTIME_API"]  # the RIE's, which it gives the runtime it starts
    child = subprocess.Popen([sys.executable, "-m", __spec__.name, "--serve", upstream], stdout=subprocess.PIPE)
    assert child.stdout is not None
    port = child.stdout.readline().strip().decode()
    if not port.isdigit():
        sys.exit(f"lit: the emulated Runtime API did not start (exit status {child.wait()})")
    env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
    os.execve(sys.executable, [sys.executable, "-m", "awslambdaric", *argv], env)


if __name__ == "__main__":
    main(sys.argv[1:])
