"""Event shapes: the trigger is recognised, inputs extracted, answers shaped for the caller."""

from __future__ import annotations

import base64
import json

import pytest
from lit_runtime import events
from lit_runtime.errors import InputError

from tests.conftest import load_event

pytestmark = pytest.mark.unit
PNG = b"\x89PNG\r\n\x1a\nfake"


@pytest.mark.parametrize(
    ("name", "trigger"),
    [
        ("direct-image", "direct"),
        ("apigw-rest-binary", "apigw-rest"),
        ("apigw-http-json", "apigw-http"),
        ("function-url-binary", "function-url"),
        ("alb-binary", "alb"),
    ],
)
def test_each_recorded_event_gives_the_image_back(name: str, trigger: str) -> None:
    request = events.parse(load_event(name, PNG), "image")
    assert request.trigger == trigger
    assert request.inputs == [PNG]


def test_batch_of_images_and_tensors() -> None:
    b64 = base64.b64encode(PNG).decode()
    assert events.parse({"images": [b64, b64]}, "image").inputs == [PNG, PNG]
    assert events.parse({"inputs": [[1, 2], [3, 4]]}, "tensor").inputs == [[1, 2], [3, 4]]
    assert events.parse({"input": [[1, 2]]}, "tensor").inputs == [[[1, 2]]]


@pytest.mark.parametrize(
    ("event", "status", "needle"),
    [
        ({}, 400, "missing field"),
        ({"image": 5}, 400, "base64 string"),
        ({"image": "!!!not base64"}, 400, "not valid base64"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_direct_events(event: object, status: int, needle: str) -> None:
    with pytest.raises(InputError) as err:
        events.parse(event, "image")
    assert err.value.status == status and needle in str(err.value)


def _http(body: str, ctype: str, b64: bool = False) -> dict:
    event = load_event("apigw-http-json")
    event["headers"]["content-type"] = ctype
    event["body"] = body
    event["isBase64Encoded"] = b64
    return event


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (_http("", "application/json"), 400),
        (_http("{not json", "application/json"), 400),
        (_http("hello", "text/plain"), 415),
        (_http(base64.b64encode(b"x" * (6 * 1024 * 1024 + 1)).decode(), "image/png", b64=True), 413),
    ],
)
def test_bad_http_bodies_get_4xx(event: dict, status: int) -> None:
    with pytest.raises(InputError) as err:
        events.parse(event, "image")
    assert err.value.status == status


def test_http_answers_are_http_shaped() -> None:
    answer = events.http_answer("alb", 415, {"error": "x"})
    assert answer["statusCode"] == 415 and answer["statusDescription"].startswith("415")
    assert json.loads(answer["body"]) == {"error": "x"}
    assert answer["headers"]["content-type"] == "application/json"
    assert "statusDescription" not in events.http_answer("apigw-http", 200, {})
