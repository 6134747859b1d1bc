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


# Found by tests/functional/test_fuzz.py: each of these was a 500, or crashed a whole batch.


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"headers": ["content-type"], "body": "{}"}, "missing field"),  # headers that are no object: none
        ({"headers": {}, "multiValueHeaders": "x", "body": "{}"}, "missing field"),
        ({"body": "\ud800"}, "not valid UTF-8"),  # a lone surrogate, from "\ud800" in the event's JSON
        ({"body": "[" * 100_000}, "nests too deeply"),
        ({"body": '{"image": ' + "1" * 5_000 + "}"}, "not valid JSON"),  # over Python's 4300-digit int limit
    ],
)
def test_malformed_http_events_are_client_errors(fields: dict, needle: str) -> None:
    event = _http("", "application/json")
    event.update(fields)
    with pytest.raises(InputError, match=needle) as err:
        events.parse(event, "image")
    assert err.value.status == 400


def _nested_list_attribute(depth: int) -> dict:
    value: dict = {"S": "x"}
    for _ in range(depth):
        value = {"L": [value]}
    return value


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({}, "one type key"),
        ({"N": "abc"}, "not a number"),
        ({"N": "1" * 5_000}, "not a number"),
        ({"B": "not base64!"}, "not valid base64"),
        (_nested_list_attribute(480), ""),  # 960 deep in the event's JSON, which Lambda still parses
    ],
)
def test_malformed_dynamodb_values_fail_their_record(value: dict, needle: str) -> None:
    event = load_event("dynamodb-batch", PNG)
    event["Records"][0]["dynamodb"]["NewImage"]["image"] = value
    (item,) = events.parse(event, "image").items
    assert item.error is not None and needle in str(item.error)


@pytest.mark.parametrize(
    ("bucket", "key", "needle"),
    [
        ("Bad Bucket", "a.png", "no valid bucket"),  # http.client refused the URL
        ("other-bucket/secret", "a.png", "no valid bucket"),  # path-style, it read s3://other-bucket/secret/a.png
        (5, "a.png", "no valid bucket"),
        ("in-bucket", "", "1 to 1024 bytes"),  # GET of the bucket itself: its listing, read as the object
        ("in-bucket", "\ud800", "1 to 1024 bytes"),
        ("in-bucket", "k" * 1_025, "1 to 1024 bytes"),
        ("in-bucket", 5, "malformed"),
    ],
)
def test_s3_records_naming_no_object_fail_alone(bucket: object, key: object, needle: str) -> None:
    event = load_event("s3-put", bucket="in-bucket", key="a.png")
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["s3"]["object"]["key"] = key
    (item,) = events.parse(event, "image").items
    assert item.source is None and needle in str(item.error)


def test_odd_records_and_flags_get_their_exact_message() -> None:
    sqs = load_event("sqs-batch")
    record = sqs["Records"][0]
    sqs["Records"] = [{**record, "body": None}, {k: v for k, v in record.items() if k != "body"}]
    first, second = events.parse(sqs, "text").items
    assert str(first.error) == "the message body must be a string of JSON, got null"
    assert "is malformed: it has no 'body'" in str(second.error)
    http = load_event("apigw-http-json")
    http["body"], http["isBase64Encoded"] = '{"text": "x"}', "false"
    with pytest.raises(InputError, match="isBase64Encoded must be true or false, got 'false'"):
        events.parse(http, "text")


@pytest.mark.parametrize(
    ("name", "path", "field"),
    [
        ("sqs-batch", ("messageId",), "messageId"),
        ("kinesis-batch", ("kinesis", "sequenceNumber"), "kinesis.sequenceNumber"),
        ("dynamodb-batch", ("dynamodb", "SequenceNumber"), "dynamodb.SequenceNumber"),
    ],
)
@pytest.mark.parametrize("value", [None, "", 7, "missing"])
def test_a_batch_record_without_its_id_fails_the_whole_batch(name: str, path: tuple, field: str, value: object) -> None:
    """A partial batch answer names failed records by this id; a record without one is not reported
    under its index (Lambda would read an unknown identifier as the whole batch failing, silently)."""
    event = load_event(name, PNG)
    event["Records"] = [event["Records"][0], json.loads(json.dumps(event["Records"][0]))]
    holder = event["Records"][1]
    for key in path[:-1]:
        holder = holder[key]
    if value == "missing":
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    with pytest.raises(InputError, match=rf"record 1 of this \w+ batch has no {field} .* the whole batch fails"):
        events.parse(event, "image")


# Input kind "body": an adapter's handler (lit_runtime.adapters) reads each request as its own server
# would have sent it, bytes, content type and accept header together.


def test_http_bodies_reach_an_adapter_as_sent() -> None:
    from lit_runtime.adapters import Body

    event = _http(base64.b64encode(PNG).decode(), "image/png", b64=True)
    event["headers"]["accept"] = "text/csv"
    assert events.parse(event, "body").inputs == [Body(PNG, "image/png", "text/csv")]
    plain = _http('{"instances": [1, 2]}', "application/json; charset=utf-8")
    assert events.parse(plain, "body").inputs == [
        Body(b'{"instances": [1, 2]}', "application/json; charset=utf-8", "application/json")
    ]
    for name in ("apigw-rest-binary", "function-url-binary", "alb-binary"):
        (body,) = events.parse(load_event(name, PNG), "body").inputs
        assert body.data == PNG


def test_direct_and_batch_events_become_bodies() -> None:
    from lit_runtime.adapters import Body

    b64 = base64.b64encode(PNG).decode()
    assert events.parse({"images": [b64, b64]}, "body").inputs == [Body(PNG, events.IMAGE_TYPE)] * 2
    given = {"body": b64, "isBase64Encoded": True, "contentType": "application/x-npy", "accept": "text/csv"}
    assert events.parse(given, "body").inputs == [Body(PNG, "application/x-npy", "text/csv")]
    assert events.parse({"instances": [[1]]}, "body").inputs == [Body(b'{"instances": [[1]]}', "application/json")]
    sqs = events.parse(load_event("sqs-batch"), "body")
    assert sqs.trigger == "sqs" and all(item.inputs and item.error is None for item in sqs.items)
    assert [item.inputs[0].data.decode() for item in sqs.items] == [
        r["body"] for r in load_event("sqs-batch")["Records"]
    ]
    s3 = events.parse(load_event("s3-put", bucket="in-bucket", key="a.png"), "body")
    assert s3.items[0].source is not None and s3.items[0].inputs == []
    (body,) = events.object_inputs("in/photo.JPG", PNG, "body")
    assert body == Body(PNG, events.IMAGE_TYPE)
    assert events.object_inputs("x.csv", b"1,2", "body")[0].content_type == "text/csv"


def test_bad_bodies_fail_alone_with_4xx() -> None:
    with pytest.raises(InputError, match="request body is empty") as err:
        events.parse(_http("", "image/png"), "body")
    assert err.value.status == 400
    with pytest.raises(InputError, match="not valid base64"):
        events.parse({"body": "!!", "isBase64Encoded": True}, "body")
    with pytest.raises(InputError, match="contentType and accept must be strings"):
        events.parse({"body": "x", "contentType": 5}, "body")
    sqs = load_event("sqs-batch", PNG)
    good = sqs["Records"][0]
    sqs["Records"] = [{**good, "messageId": "a", "body": None}, {**good, "messageId": "b", "body": "\ud800"}, good]
    items = events.parse(sqs, "body").items
    assert "must be a string" in str(items[0].error) and "not valid UTF-8" in str(items[1].error)
    assert items[2].error is None and items[2].inputs[0].data == good["body"].encode()
