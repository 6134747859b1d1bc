"""`lit compare`'s reading of two servers' answers (lit/compare.py), and its HTTP client against a
real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lit import compare
from lit.errors import LitError
from lit.eval_data import Dataset, Example
from lit.evaluate import Answers

pytestmark = pytest.mark.unit
MMS_ANSWER = [{"probability": 0.9, "class": "3"}, {"probability": 0.1, "class": "8"}]


def test_numbers_differ_by_their_distance_and_anything_else_by_infinity() -> None:
    assert compare.difference(
        MMS_ANSWER, [{"probability": 0.9000004, "class": "3"}, {"probability": 0.1, "class": "8"}]
    ) == pytest.approx(4e-7)
    assert math.isinf(compare.difference(MMS_ANSWER, MMS_ANSWER[:1]))
    assert math.isinf(compare.difference({"a": 1}, {"b": 1}))
    assert math.isinf(compare.difference("cat", "dog"))
    assert math.isinf(compare.difference(True, 1.0))
    assert compare.difference([[1, 2.5]], [[1, 2.5]]) == 0.0


def test_top1_reads_the_ranked_answers_servers_give() -> None:
    assert compare.top1(MMS_ANSWER) == "3"
    assert compare.top1([MMS_ANSWER[::-1]]) == "3"  # a batch of one, in any order
    assert compare.top1({"cat": 0.2, "dog": 0.7}) == "dog"
    assert compare.top1([0.1, 0.7, 0.2]) == "1"
    assert compare.top1({"vector": [0.1]}) is None and compare.top1("text") is None


def test_inputs_go_as_the_original_servers_take_them() -> None:
    png = b"\x89PNG fake"
    assert compare.body_of({"image": base64.b64encode(png).decode()}) == (png, "application/x-image")
    assert compare.body_of({"text": "héllo"}) == ("héllo".encode(), "text/plain")
    assert compare.body_of({"inputs": [[1, 2]]}) == (b'{"inputs": [[1, 2]]}', "application/json")


def _data(n: int) -> Dataset:
    return Dataset("held-out", "label", [Example(f"{i}.png", {"image": "AA=="}, "3") for i in range(n)])


def test_a_report_counts_agreement_and_names_the_worst_and_the_failed() -> None:
    near = [{"probability": 0.9 + 2e-6, "class": "3"}, {"probability": 0.1, "class": "8"}]
    flipped = [{"probability": 0.4, "class": "3"}, {"probability": 0.6, "class": "8"}]
    mine = Answers("lit", [MMS_ANSWER, near, flipped, None], errors={"3.png": "status 500: boom"})
    theirs = Answers("mms", [MMS_ANSWER, MMS_ANSWER, MMS_ANSWER, MMS_ANSWER])
    report = compare.compare(_data(4), mine, theirs, 1e-5)
    assert (report.compared, report.within, report.top1_same) == (3, 2, 2)
    assert report.max_difference == pytest.approx(0.5)
    assert report.worst[0] == ("2.png", pytest.approx(0.5)) and not report.same
    assert report.failed == {"3.png": "lit: status 500: boom"}
    text = compare.render(report)
    assert "top-1 agrees on 2/3" in text and "3.png failed on lit: status 500: boom" in text
    assert text.endswith("the answers differ")
    same = compare.compare(_data(2), Answers("lit", [MMS_ANSWER, near]), Answers("mms", [MMS_ANSWER] * 2), 1e-5)
    assert same.same and compare.render(same).endswith("the answers are the same")
    shaped = compare.compare(_data(1), Answers("lit", [{"x": 1}]), Answers("mms", [[1]]), 1e-5)
    assert shaped.max_difference is None and json.dumps(shaped.worst)  # JSON has no Infinity


class _Server(BaseHTTPRequestHandler):
    seen: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Server.seen.append((self.headers["Content-Type"], body))
        if body == b"bad":
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"worker died")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(MMS_ANSWER).encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_the_original_is_sent_bodies_over_http_and_its_errors_kept() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        send = compare.http_original(f"http://127.0.0.1:{server.server_port}/predictions/digits")
        status, raw = send(json.dumps({"image": base64.b64encode(b"png").decode()}).encode())
        assert status == 200 and json.loads(raw) == {"predictions": [MMS_ANSWER]}
        assert _Server.seen[-1] == ("application/x-image", b"png")
        status, raw = send(json.dumps({"body": "x"}).encode())
        assert _Server.seen[-1] == ("application/json", b'{"body": "x"}')
        status, raw = send(json.dumps({"text": "bad"}).encode())
        assert status == 503 and "worker died" in json.loads(raw)["errorMessage"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    with pytest.raises(LitError, match="could not reach the original server") as err:
        send(json.dumps({"text": "x"}).encode())
    assert "multi-model-server --start" in err.value.fix
