"""The runtime's side of adapters (lit_runtime.adapters): whatever the kind, its answers reach every
trigger in the trigger's shape. A kind of this test's own stands in for the real ones here (they have
their own tests, through their servers' archives): it echoes what the handler was given."""

from __future__ import annotations

import base64
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_event, start_app

pytestmark = pytest.mark.functional
pytest.importorskip("numpy")

from lit_runtime import adapters, events  # noqa: E402
from lit_runtime.adapters import Body, Raw  # noqa: E402


class Echo:
    """Answers each body with what it was sent; a body of b"csv" as text/csv, b"boom" raises."""

    def __init__(self, settings: Any, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.calls: list[int] = []

    def initialize(self, ctx: Any) -> None:
        ctx.state["initialized"] = (self.model_dir / "weights.bin").read_bytes()

    def predict(self, inputs: list[Body], ctx: Any) -> list[Any]:
        self.calls.append(len(inputs))
        if any(body.data == b"boom" for body in inputs):
            raise RuntimeError("the handler failed")
        return [
            Raw(b"a,b\n1,2\n", "text/csv")
            if body.data == b"csv"
            else Raw(
                json.dumps(
                    {"got": body.data.decode(errors="replace"), "type": body.content_type, "accept": body.accept}
                ).encode(),
                "application/json",
            )
            for body in inputs
        ]


@pytest.fixture()
def echo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return _start_echo(tmp_path, monkeypatch)


def _start_echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = types.ModuleType("lit_runtime.adapters.sagemaker")
    module.ADAPTER = Echo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lit_runtime.adapters.sagemaker", module)
    root = tmp_path / "p"
    (root / "model" / "code").mkdir(parents=True)
    (root / "model" / "weights.bin").write_bytes(b"w")
    (root / "model" / "code" / "inference.py").write_text("")
    (root / "lit.toml").write_text(
        'name = "echo"\n[model]\npath = "model"\nformat = "onnx"\nengine = "onnxruntime"\n'
        '[adapter]\nkind = "sagemaker"\nhandler = "inference"\ncode = "model/code"\n'
    )
    (root / "model" / "m.onnx").write_bytes(b"")
    monkeypatch.setenv("LIT_MODEL_DIR", str(root / "model"))
    app = start_app(root)
    assert app.ctx.state["initialized"] == b"w" and app.ctx.model is None
    return app


def _http(body: bytes, ctype: str, accept: str = "application/json") -> dict[str, Any]:
    event = load_event("function-url-binary", b"x")
    event["headers"] = {"content-type": ctype, "accept": accept}
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def test_one_http_request_gets_the_handlers_own_bytes_and_type(echo_app: Any) -> None:
    answer = echo_app.handle(_http(b"csv", "text/plain"))
    assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "text/csv"
    assert base64.b64decode(answer["body"]) == b"a,b\n1,2\n"
    answer = echo_app.handle(_http(b"[1, 2]", "application/json", "application/json"))
    assert json.loads(base64.b64decode(answer["body"])) == {
        "got": "[1, 2]",
        "type": "application/json",
        "accept": "application/json",
    }


def test_direct_invokes_answer_predictions_one_per_input(echo_app: Any) -> None:
    b64 = base64.b64encode(b"img").decode()
    answer = echo_app.handle({"images": [b64, base64.b64encode(b"csv").decode()]})
    assert answer == {
        "predictions": [{"got": "img", "type": "application/x-image", "accept": "application/json"}, "a,b\n1,2\n"]
    }
    assert echo_app.handle({"instances": [1]})["predictions"][0]["got"] == '{"instances": [1]}'


def test_a_batch_is_one_handler_call_and_a_failing_record_fails_alone(echo_app: Any) -> None:
    event = load_event("sqs-batch", b"x")
    good = event["Records"][0]
    event["Records"] = [
        {**good, "messageId": str(i), "body": body} for i, body in enumerate(['{"a": 1}', "boom", "csv"])
    ]
    adapter = echo_app.hooks["inference"].__self__
    adapter.calls.clear()
    answer = echo_app.handle(event)
    assert adapter.calls[0] == 3  # the whole batch in one call first, then each record alone
    assert answer["batchItemFailures"] == [{"itemIdentifier": "1"}]
    results = {r["id"]: r for r in answer["results"]}
    assert results["0"]["predictions"] == [
        {"got": '{"a": 1}', "type": "application/json", "accept": "application/json"}
    ]
    assert results["2"]["predictions"] == ["a,b\n1,2\n"]
    assert "the handler failed" in results["1"]["error"]["message"]


def test_a_handler_error_is_a_500_over_http_and_raised_on_a_direct_invoke(echo_app: Any) -> None:
    assert echo_app.handle(_http(b"boom", "text/plain"))["statusCode"] == 500
    with pytest.raises(RuntimeError, match="the handler failed"):
        echo_app.handle({"body": "boom"})


def test_serialised_answers_read_back_as_json_holds_them() -> None:
    assert adapters.jsonable(Raw(b'{"a": [1]}', "application/json; charset=utf-8")) == {"a": [1]}
    assert adapters.jsonable(Raw(b"1,2", "text/csv")) == "1,2"
    assert adapters.jsonable(b"\x93NUMPY") == {"base64": "k05VTVBZ", "content_type": "application/octet-stream"}
    assert adapters.jsonable(Raw(b"{bad", "application/json")) == "{bad"
    assert adapters.jsonable([0.5]) == [0.5]


def test_a_writable_copy_is_made_once(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"x")
    dest = adapters.writable_copy(tmp_path / "m", tmp_path / "copy")
    (dest / "w.bin").write_bytes(b"changed")
    assert adapters.writable_copy(tmp_path / "m", tmp_path / "copy") == dest
    assert (dest / "w.bin").read_bytes() == b"changed" and (tmp_path / "m" / "w.bin").read_bytes() == b"x"


EVENTS = ["direct-image", "apigw-rest-binary", "apigw-http-json", "function-url-binary", "alb-binary"]
EVENTS += ["sqs-batch", "kinesis-batch", "dynamodb-batch", "sns-notification"]


def _paths(node: Any, trail: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [trail] if trail else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found += _paths(value, (*trail, key))
    return found


def test_mutated_events_of_every_trigger_never_crash_the_body_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any event, mutated anywhere: an adapter's function answers it, or refuses it as the trigger's
    client error (a 4xx HTTP answer, an InputError for a direct invoke, the batch's bad records)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from lit_runtime.errors import InputError

    from tests.conftest import load_event as recorded

    app = _start_echo(tmp_path, monkeypatch)
    originals = {name: recorded(name, b"\x89PNG\r\n", bucket="in-bucket", key="a.png") for name in EVENTS}
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.binary(max_size=8).map(lambda b: b.hex()),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )

    @settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(EVENTS), st.lists(st.tuples(st.integers(0, 10_000), values), min_size=1, max_size=3))
    def check(name: str, changes: list[tuple[int, Any]]) -> None:
        event = json.loads(json.dumps(originals[name]))
        for index, value in changes:
            paths = _paths(event)
            if not paths:
                break
            *parents, last = paths[index % len(paths)]
            holder = event
            for key in parents:
                holder = holder[key]
            holder[last] = value
        trigger = events.detect(event)
        try:
            answer = app.handle(event)
        except InputError:
            assert trigger == "direct" or trigger in ("sqs", "kinesis", "dynamodb", "sns", "s3")
            return
        if trigger in ("apigw-rest", "apigw-http", "function-url", "alb"):
            assert answer["statusCode"] == 200 or 400 <= answer["statusCode"] < 500, answer
        elif trigger in ("sqs", "kinesis", "dynamodb", "sns"):
            assert all(("error" in r) != ("predictions" in r) for r in answer["results"])

    check()


def test_the_contract_and_the_sam_api_of_an_adapter_function(echo_app: Any) -> None:
    """`lit schema` states what an adapter's function takes (any body its handler reads), and `lit
    template --api` passes every body through as bytes."""
    import jsonschema
    from lit_runtime import contract

    from lit import template

    doc = contract.schema(*contract.of(echo_app))
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["x-lit"]["input"] == "body" and "handler" in doc["$defs"]["request"]["description"]
    answer = echo_app.handle({"instances": [1]})
    jsonschema.validate(answer, {**doc["$defs"]["response"], "$defs": doc["$defs"]})
    api = contract.openapi(*contract.of(echo_app))
    assert "*/*" in api["paths"]["/"]["post"]["requestBody"]["content"]
    sam = template.openapi("/predict", "live", "body")
    assert "*/*" in sam["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert "*/*" in template.binary_media_types("body")
