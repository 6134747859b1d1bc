"""The runtime in-process on the real digits model: defaults, hooks, triggers, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, heldout, load_event, start_app

pytestmark = pytest.mark.functional
mx = pytest.importorskip("mxnet")

from lit_runtime.app import App  # noqa: E402
from lit_runtime.errors import InputError, ServiceError  # noqa: E402


@pytest.fixture()
def start(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)

    def _start(root: Path, service: str | None = None) -> App:
        if service:
            shutil.copy(FIXTURES / "services" / f"{service}.py", root / "service.py")
        return start_app(root)

    return _start


def test_default_image_service_reads_digits(digits_model: Path, start) -> None:
    app = start(digits_model)
    cases = heldout(digits_model)
    right = 0
    for path, label in cases:
        answer = app.handle({"image": __import__("base64").b64encode(path.read_bytes()).decode()})
        top = answer["predictions"][0]
        assert len(top) == 3 and top[0]["probability"] >= top[1]["probability"]
        right += int(top[0]["label"]) == label
    assert right / len(cases) >= 0.95


@pytest.mark.parametrize("name", ["apigw-rest-binary", "apigw-http-json", "function-url-binary", "alb-binary"])
def test_http_triggers_answer_http(digits_model: Path, start, name: str) -> None:
    app = start(digits_model)
    path, label = heldout(digits_model)[0]
    answer = app.handle(load_event(name, path.read_bytes()))
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert int(body["predictions"][0][0]["label"]) == label


def test_bad_image_is_400_and_next_request_works(digits_model: Path, start) -> None:
    app = start(digits_model)
    bad = app.handle(load_event("function-url-binary", b"not an image at all"))
    assert bad["statusCode"] == 400 and "decodable image" in json.loads(bad["body"])["error"]["message"]
    path, _ = heldout(digits_model)[0]
    assert app.handle(load_event("function-url-binary", path.read_bytes()))["statusCode"] == 200
    with pytest.raises(InputError, match="decodable"):
        app.handle({"image": "aGVsbG8="})


def test_hook_state_lives_across_requests(digits_copy: Path, start) -> None:
    app = start(digits_copy, "custom_postprocess")
    path, label = heldout(digits_copy)[0]
    event = load_event("direct-image", path.read_bytes())
    assert app.handle(event)["predictions"] == [{"digit": label, "calls": 1}]
    assert app.handle(event)["predictions"][0]["calls"] == 2


def test_raising_inference_is_500_without_trace_then_recovers(digits_copy: Path, start) -> None:
    app = start(digits_copy, "raises_in_inference")
    white = __import__("cv2").imencode(".png", __import__("numpy").full((8, 8), 255, "uint8"))[1].tobytes()
    answer = app.handle(load_event("alb-binary", white))
    assert answer["statusCode"] == 500 and "Traceback" not in answer["body"]
    with pytest.raises(ValueError, match="exploded"):
        app.handle(load_event("direct-image", white))
    path, _ = heldout(digits_copy)[0]
    assert app.handle(load_event("alb-binary", path.read_bytes()))["statusCode"] == 200


@pytest.mark.parametrize(
    ("service", "error", "needle"),
    [
        ("raises_in_init", RuntimeError, "feature store"),
        ("bad_signature", ServiceError, "expected postprocess(data, context)"),
        ("wrong_names", ServiceError, "rename handle/predict to inference"),
    ],
)
def test_broken_services_fail_at_init(digits_copy: Path, start, service: str, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle.replace("(", r"\(").replace(")", r"\)")):
        start(digits_copy, service)


def test_image_bomb_is_413_before_decoding(digits_model: Path, start) -> None:
    from tests.conftest import bomb_png

    app = start(digits_model)
    answer = app.handle(load_event("apigw-rest-binary", bomb_png(60_000, 60_000)))
    assert answer["statusCode"] == 413
    assert "60000x60000" in json.loads(answer["body"])["error"]["message"]
    path, _ = heldout(digits_model)[0]
    assert app.handle(load_event("apigw-rest-binary", path.read_bytes()))["statusCode"] == 200


def test_a_labels_file_that_does_not_match_the_model_fails_init(digits_copy: Path, start) -> None:
    from lit_runtime.errors import ModelError

    (digits_copy / "labels.txt").write_text("\n".join("abcde") + "\n")
    with pytest.raises(ModelError, match="has 5 labels but the model outputs 10 classes"):
        start(digits_copy)


def test_a_symbol_file_that_is_not_json_is_named(digits_copy: Path, start) -> None:
    from lit_runtime.errors import ModelError

    (digits_copy / "model" / "digits-symbol.json").write_text("not json {")
    with pytest.raises(ModelError, match="digits-symbol.json is not an MXNet symbol file"):
        start(digits_copy)
