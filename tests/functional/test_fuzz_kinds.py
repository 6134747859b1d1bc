"""Fuzzing the new input kinds on ONNX Runtime: text (any string a caller can send) and binary .npy
tensors (valid ones mutated byte by byte), directly, over HTTP and in SQS batches.

Nothing may crash the runtime: a direct caller gets an InputError, an HTTP caller a 4xx naming the
problem, a batch exactly its bad records in batchItemFailures; every valid input is answered.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import batch_event, load_event, start_app
from tests.fixtures import onnx_models

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")
pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lit_runtime.app import App  # noqa: E402
from lit_runtime.errors import InputError  # noqa: E402

FUZZ = settings(max_examples=2_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TOML = """
name = "fuzz"
[model]
path = "model"
format = "onnx"
input = "{kind}"
labels = "labels.txt"
[text]
max_length = 16
"""


def make_app(root: Path, kind: str) -> App:
    (root / "model").mkdir(parents=True)
    toml = TOML.format(kind=kind)
    (root / "lit.toml").write_text(toml if kind == "text" else toml.split("[text]")[0])
    onnx_models.bag_of_words_classifier(root / "model" / "m.onnx")
    onnx_models.word_tokenizer(root / "model" / "tokenizer.json")
    (root / "labels.txt").write_text("\n".join(onnx_models.TOPICS) + "\n")
    return start_app(root)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, App]:
    root = tmp_path_factory.mktemp("fuzz")
    return {kind: make_app(root / kind, kind) for kind in ("text", "tensor")}


def answer(app: App, event: Any) -> tuple[int, Any]:
    """(status, payload) as a caller sees it; anything but an InputError fails the test."""
    try:
        out = app.handle(event)
    except InputError as exc:
        assert 400 <= exc.status < 500, exc
        return exc.status, None
    if isinstance(out, dict) and "statusCode" in out:
        assert out["statusCode"] < 500, out
        return out["statusCode"], json.loads(out["body"])
    return 200, out


def http(body: bytes, ctype: str) -> dict[str, Any]:
    event = load_event("apigw-http-json")
    event["headers"] = {"content-type": ctype}
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def valid_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


texts = st.text(max_size=300) | st.sampled_from(["", "  ", "court", "\x00", "\ud800", "é" * 40, "code " * 200])
values = texts | st.integers() | st.none() | st.lists(st.text(max_size=5), max_size=2) | st.floats(allow_nan=True)


@FUZZ
@given(value=values, plural=st.booleans())
def test_text_direct(apps: dict[str, App], value: Any, plural: bool) -> None:
    event = {"texts": [value, "judge"]} if plural else {"text": value}
    status, payload = answer(apps["text"], event)
    assert (status == 200) == valid_text(value), (value, status)
    if status == 200:
        assert len(payload["predictions"]) == (2 if plural else 1)
        assert {p["label"] for p in payload["predictions"][0]} <= set(onnx_models.TOPICS)


@FUZZ
@given(body=st.binary(max_size=400) | texts.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_text_over_http(apps: dict[str, App], body: bytes) -> None:
    status, payload = answer(apps["text"], http(body, "text/plain"))
    try:
        ok = valid_text(body.decode("utf-8"))
    except UnicodeDecodeError:
        ok = False
    assert (status == 200) == ok, (body, status, payload)


@FUZZ
@given(values=st.lists(values, min_size=1, max_size=5))
def test_text_batches_fail_exactly_their_bad_records(apps: dict[str, App], values: list[Any]) -> None:
    event = batch_event("sqs-batch", [b"x"] * len(values))
    for record, value in zip(event["Records"], values):
        record["body"] = json.dumps({"text": value})
    status, payload = answer(apps["text"], event)
    assert status == 200
    failed = {f["itemIdentifier"] for f in payload["batchItemFailures"]}
    bad = {r["messageId"] for r, v in zip(event["Records"], values) if not valid_text(v)}
    assert failed == bad


def saved(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


GOOD_IDS = saved(np.array([[2, 3, 4], [8, 9, 10]], np.int64))


@st.composite
def npy_bodies(draw: Any) -> bytes:
    data = bytearray(
        draw(st.sampled_from([GOOD_IDS, saved(np.ones((1, 5), np.float64)), saved(np.ones((2, 2), "i1"))]))
    )
    how = draw(st.integers(0, 3))
    if how == 0:  # flip bytes anywhere, header included
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == 1:
        data = data[: draw(st.integers(0, len(data)))]
    elif how == 2:
        data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@FUZZ
@given(body=npy_bodies(), direct=st.booleans())
def test_npy_tensors(apps: dict[str, App], body: bytes, direct: bool) -> None:
    app = apps["tensor"]
    b64 = base64.b64encode(body).decode()
    event = {"npy": {"input_ids": b64, "attention_mask": b64}} if direct else http(body, "application/x-npy")
    status, payload = answer(app, event)
    if body == GOOD_IDS and direct:
        assert status == 200 and len(payload["predictions"]) == 2
    elif not direct:
        assert status in (400, 415, 413), status  # one .npy cannot feed a two-input model
