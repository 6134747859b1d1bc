"""Lambda event shapes: which trigger sent it, the inputs it carries, and the answer it expects.

Every trigger becomes a Request of Items. An Item is one unit that succeeds or fails on its own:
the whole event for direct and HTTP invokes, one record for S3, SQS, Kinesis, DynamoDB and SNS.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import answers
from .contract import ACCEPT_FIELD, FIELDS, NPY_FIELD
from .errors import InputError
from .text import check as check_text

# Lambda's synchronous payload limit; a bigger body can only come from a local caller.
MAX_BODY_BYTES = 6 * 1024 * 1024
HTTP = ("apigw-rest", "apigw-http", "function-url", "alb")
BATCH = ("sqs", "kinesis", "dynamodb")
NPY_TYPES = ("application/x-npy", "application/npy", "application/octet-stream")
# S3's bucket names, legacy us-east-1 ones included: nothing that could leave the URL's bucket part.
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,254}")


@dataclass
class Item:
    id: str = ""
    inputs: list[Any] = field(default_factory=list)
    error: InputError | None = None
    source: tuple[str, str] | None = None  # (bucket, key) of an S3 object still to read


@dataclass
class Request:
    trigger: str
    items: list[Item]
    accept: str = "json"  # json | npy | npz (lit_runtime.answers); batch triggers answer JSON

    @property
    def inputs(self) -> list[Any]:
        return [x for item in self.items for x in item.inputs]


def detect(event: Any) -> str:
    if not isinstance(event, dict):
        return "direct"
    ctx = event.get("requestContext")
    if isinstance(ctx, dict):
        if "elb" in ctx:
            return "alb"
        if event.get("version") == "2.0" and "http" in ctx:
            domain = str(ctx.get("domainName", ""))
            return "function-url" if ".lambda-url." in domain else "apigw-http"
        if "httpMethod" in event:
            return "apigw-rest"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        return {
            "aws:s3": "s3",
            "aws:sqs": "sqs",
            "aws:kinesis": "kinesis",
            "aws:dynamodb": "dynamodb",
            "aws:sns": "sns",
        }.get(str(source), "direct")
    return "direct"


def is_http(trigger: str) -> bool:
    return trigger in HTTP


def parse(event: Any, kind: str) -> Request:
    trigger = detect(event)
    if kind == "body":
        return _body_request(event, trigger)
    if trigger == "direct":
        accept = answers.from_direct(event.get(ACCEPT_FIELD) if isinstance(event, dict) else None)
        return Request(trigger, [Item("", inputs_from_json(event, kind))], accept)
    if is_http(trigger):
        return Request(trigger, [Item("", _http_inputs(event, kind))], answers.from_header(_header(event, "accept")))
    reader = {"s3": _s3_item, "sqs": _sqs_item, "kinesis": _kinesis_item, "dynamodb": _dynamodb_item, "sns": _sns_item}[
        trigger
    ]
    return _records(event, trigger, lambda record, item: reader(record, kind, item))


def _records(event: dict[str, Any], trigger: str, read: Callable[[dict[str, Any], Item], None]) -> Request:
    """A batch trigger's records as Items, each read on its own: a malformed one fails alone."""
    items = []
    for i, record in enumerate(event["Records"]):
        item = Item(id=_record_id(trigger, record, i))
        try:
            read(record, item)
        except InputError as exc:
            item.error = exc
        except KeyError as exc:
            item.error = InputError(f"record {item.id or i} is malformed: it has no {exc}")
        except (TypeError, AttributeError):
            item.error = InputError(
                f"record {item.id or i} is malformed: a field has the wrong type for a {trigger} record"
            )
        except RecursionError:
            item.error = InputError(f"record {item.id or i} nests too deeply")
        items.append(item)
    return Request(trigger, items)


# The field that names a record in a partial batch answer (batchItemFailures' itemIdentifier)
BATCH_IDS = {"sqs": "messageId", "kinesis": "kinesis.sequenceNumber", "dynamodb": "dynamodb.SequenceNumber"}


def _record_id(trigger: str, record: dict[str, Any], index: int) -> str:
    try:
        if trigger == "sqs":
            found = record["messageId"]
        elif trigger == "kinesis":
            found = record["kinesis"]["sequenceNumber"]
        elif trigger == "dynamodb":
            found = record["dynamodb"]["SequenceNumber"]
        elif trigger == "sns":
            return str(record["Sns"]["MessageId"])
        elif trigger == "s3":
            return urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        else:
            return str(index)
        if isinstance(found, str) and found:
            return found
    except (KeyError, TypeError, AttributeError):
        pass
    if trigger in BATCH_IDS:
        # A partial batch answer names each failed record by this id; one it cannot name would be
        # read by Lambda as a failure of the whole batch anyway. Say so, and fail the batch now.
        raise InputError(
            f"record {index} of this {trigger} batch has no {BATCH_IDS[trigger]} (a non-empty string), so "
            "its failure could not be reported on its own; the whole batch fails and is retried. "
            f"Send records as {trigger} delivers them"
        )
    return str(index)


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64") from None


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:  # bad JSON or UTF-8, or an integer of more digits than Python converts
        raise InputError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{what} nests too deeply") from None


def inputs_from_json(doc: Any, kind: str) -> list[Any]:
    """The inputs of a JSON document: {"image": b64} / {"images": [...]} for images; {"input": t} /
    {"inputs": [...]} / {"npy": b64} / {"npy": {name: b64}} for tensors; {"text": s} / {"texts": [...]}."""
    if not isinstance(doc, dict):
        raise InputError(f"expected a JSON object, got {type(doc).__name__}")
    one, many = FIELDS[kind]  # the contract's field names (lit_runtime.contract)
    if kind == "tensor" and NPY_FIELD in doc:
        return _npy_inputs(doc[NPY_FIELD])
    read: Callable[[Any, str], Any] = {"text": check_text, "image": _b64, "tensor": _as_is}[kind]
    if one in doc:
        return [read(doc[one], f"'{one}'")]
    if isinstance(doc.get(many), list) and doc[many]:
        return [read(v, f"'{many}[{i}]'") for i, v in enumerate(doc[many])]
    example = {"text": '"..."', "image": '"<base64>"', "tensor": "[[...]]"}[kind]
    raise InputError(f'missing field: send {{"{one}": {example}}} or {{"{many}": [{example}, ...]}}')


def _as_is(value: Any, _what: str) -> Any:
    return value


def _npy_inputs(value: Any) -> list[Any]:
    """{"npy": b64} (one input) or {"npy": {name: b64, ...}} (named inputs); bytes where DynamoDB gave them."""
    from . import npy

    if isinstance(value, dict):
        if not value:
            raise InputError("'npy' names no inputs")
        arrays = {str(k): npy.decode(_bytes(v, f"'npy.{k}'"), f"'npy.{k}'") for k, v in value.items()}
        return npy.named_examples(arrays)
    return npy.examples(_bytes(value, "'npy'"), "'npy'")


def _bytes(value: Any, what: str) -> bytes:
    return value if isinstance(value, bytes) else _b64(value, what)


def _header(event: dict[str, Any], name: str) -> str:
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        for k, v in headers.items() if isinstance(headers, dict) else ():
            if k.lower() == name:
                return str(v[0] if isinstance(v, list) and v else v)
    return ""


def _http_inputs(event: dict[str, Any], kind: str) -> list[Any]:
    raw = _http_body(event)
    ctype = _header(event, "content-type").split(";")[0].strip().lower()
    if ctype in ("application/json", "") or ctype.endswith("+json"):
        return inputs_from_json(_json(raw, "body"), kind)
    if kind == "image" and (ctype.startswith("image/") or ctype == "application/octet-stream"):
        return [raw]
    if kind == "tensor" and ctype in NPY_TYPES:
        from . import npy

        return npy.examples(raw, "body")
    if kind == "text" and ctype == "text/plain":
        return [check_text(_utf8(raw, "body"), "body")]
    accepted = {"image": "image/*", "tensor": "application/x-npy", "text": "text/plain"}[kind]
    raise InputError(
        f"content type {ctype!r} does not fit a model of {kind} input; send application/json or {accepted}", 415
    )


def _http_body(event: dict[str, Any]) -> bytes:
    """An HTTP event's body as bytes (base64 decoded where the event says so), within Lambda's limit."""
    body = event.get("body")
    if body is None or body == "":
        raise InputError("request body is empty")
    if not isinstance(body, str):
        raise InputError("request body must be a string")
    encoded = event.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise InputError(f"isBase64Encoded must be true or false, got {encoded!r}")
    try:
        raw = _b64(body, "body") if encoded else body.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in the event's JSON
        raise InputError("request body is not valid UTF-8 text") from None
    if len(raw) > MAX_BODY_BYTES:
        raise InputError(f"body is {len(raw)} bytes; Lambda's synchronous limit is {MAX_BODY_BYTES}", 413)
    return raw


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is not valid UTF-8 text") from None


def _s3_item(record: dict[str, Any], kind: str, item: Item) -> None:
    if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
        raise InputError(f"S3 event {record.get('eventName')} is not ObjectCreated; nothing to predict")
    bucket, key = record["s3"]["bucket"]["name"], urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    if not isinstance(bucket, str) or not BUCKET_NAME.fullmatch(bucket):
        raise InputError(f"S3 record names no valid bucket: {bucket!r}")
    try:
        size = len(key.encode())
    except UnicodeEncodeError:  # a lone surrogate: no S3 key has one
        size = 0
    if not 0 < size <= 1024:
        raise InputError(f"S3 object keys are 1 to 1024 bytes of UTF-8, got {key[:100]!r}")
    item.source = (bucket, key)


def object_inputs(key: str, data: bytes, kind: str) -> list[Any]:
    """An S3 object's inputs: the image itself, an .npy tensor, a .txt text, or a JSON document
    like a direct invoke's."""
    name = key.lower()
    if kind == "body":
        return _object_body(key, data)
    if kind == "image" and not name.endswith(".json"):
        return [data]
    if kind == "tensor" and name.endswith(".npy"):
        from . import npy

        return npy.examples(data, f"s3 object {key}")
    if kind == "text" and not name.endswith(".json"):
        return [check_text(_utf8(data, f"s3 object {key}"), f"s3 object {key}")]
    return inputs_from_json(_json(data, f"s3 object {key}"), kind)


def _sqs_item(record: dict[str, Any], kind: str, item: Item) -> None:
    body = record["body"]
    if not isinstance(body, str):
        raise InputError(
            f"the message body must be a string of JSON, got {type(body).__name__ if body is not None else 'null'}"
        )
    item.inputs = inputs_from_json(_json(body, "message body"), kind)


def _kinesis_item(record: dict[str, Any], kind: str, item: Item) -> None:
    item.inputs = inputs_from_json(_json(_b64(record["kinesis"]["data"], "kinesis data"), "kinesis data"), kind)


def _sns_item(record: dict[str, Any], kind: str, item: Item) -> None:
    item.inputs = inputs_from_json(_json(record["Sns"]["Message"], "SNS message"), kind)


def _dynamodb_item(record: dict[str, Any], kind: str, item: Item) -> None:
    image = record["dynamodb"].get("NewImage")
    if image is None:
        raise InputError(f"{record.get('eventName', 'event')} record has no NewImage; nothing to predict")
    doc = {k: from_dynamodb(v) for k, v in image.items()}
    if kind == "image" and isinstance(doc.get("image"), bytes):
        item.inputs = [doc["image"]]
        return
    item.inputs = inputs_from_json(doc, kind)


def from_dynamodb(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value ({"S": ...}, {"N": ...}, {"L": [...]}, ...) as plain Python."""
    if not isinstance(value, dict) or len(value) != 1:
        raise InputError('a DynamoDB attribute value is an object with one type key, like {"S": "text"}')
    ((tag, v),) = value.items()
    if tag == "S":
        return v
    if tag == "N":
        try:
            return float(v) if any(c in v for c in ".eE") else int(v)
        except ValueError:
            raise InputError(f"DynamoDB number {v[:100]!r} is not a number") from None
    if tag == "B":
        return _b64(v, "DynamoDB binary value")
    if tag == "BOOL":
        return bool(v)
    if tag == "NULL":
        return None
    if tag == "L":
        return [from_dynamodb(x) for x in v]
    if tag == "M":
        return {k: from_dynamodb(x) for k, x in v.items()}
    if tag in ("SS", "NS", "BS"):
        return [from_dynamodb({tag[0]: x}) for x in v]
    raise InputError(f"unknown DynamoDB attribute type {tag}")


def http_answer(trigger: str, status: int, payload: Any, content_type: str = "application/json") -> dict[str, Any]:
    """The answer in the trigger's HTTP shape: a JSON payload, or bytes (an .npy answer) as base64."""
    binary = isinstance(payload, bytes)
    answer: dict[str, Any] = {
        "statusCode": status,
        "headers": {"content-type": content_type},
        "body": base64.b64encode(payload).decode("ascii") if binary else json.dumps(payload),
        "isBase64Encoded": binary,
    }
    if trigger == "alb":
        answer["statusDescription"] = f"{status} {'OK' if status < 400 else 'Error'}"
    return answer


# Input kind "body" (an adapter's handler, lit_runtime.adapters): each example is the bytes the client
# sent, with their content type and accept header, for the handler to read as its own server would.
JSON_TYPE = "application/json"
IMAGE_TYPE = "application/x-image"  # what SageMaker's and Model Server's clients send images as


def _body_request(event: Any, trigger: str) -> Request:
    from .adapters import Body

    if is_http(trigger):
        raw = _http_body(event)
        ctype = _header(event, "content-type") or "application/octet-stream"
        return Request(trigger, [Item("", [Body(raw, ctype, _header(event, "accept") or JSON_TYPE)])])
    if trigger == "direct":
        return Request(trigger, [Item("", _direct_bodies(event))])

    def read(record: dict[str, Any], item: Item) -> None:
        item.inputs = _record_bodies(trigger, record, item)

    return _records(event, trigger, read)


def _direct_bodies(event: Any) -> list[Any]:
    """A direct invoke: {"body": ..., "isBase64Encoded", "contentType", "accept"} as an HTTP request
    would carry it; {"image": b64} / {"images": [...]}; else the event itself, as a JSON body."""
    from .adapters import Body

    if isinstance(event, dict) and "body" in event:
        raw = _http_body({"body": event["body"], "isBase64Encoded": event.get("isBase64Encoded", False)})
        ctype, accept = event.get("contentType", JSON_TYPE), event.get("accept", JSON_TYPE)
        if not isinstance(ctype, str) or not isinstance(accept, str):
            raise InputError("contentType and accept must be strings")
        return [Body(raw, ctype, accept)]
    if isinstance(event, dict) and ("image" in event or "images" in event):
        return [Body(data, IMAGE_TYPE) for data in inputs_from_json(event, "image")]
    return [Body(json.dumps(event).encode(), JSON_TYPE)]


def _record_bodies(trigger: str, record: dict[str, Any], item: Item) -> list[Any]:
    from .adapters import Body

    if trigger == "s3":
        _s3_item(record, "body", item)  # read later (App._read_objects), then object_inputs
        return []
    if trigger == "sqs":
        text = record["body"]
    elif trigger == "sns":
        text = record["Sns"]["Message"]
    elif trigger == "kinesis":
        return [Body(_b64(record["kinesis"]["data"], "kinesis data"), JSON_TYPE)]
    else:
        image = record["dynamodb"].get("NewImage")
        if image is None:
            raise InputError(f"{record.get('eventName', 'event')} record has no NewImage; nothing to predict")
        doc = {k: from_dynamodb(v) for k, v in image.items()}
        if isinstance(doc.get("image"), bytes):
            return [Body(doc["image"], IMAGE_TYPE)]
        return [Body(json.dumps(doc).encode(), JSON_TYPE)]
    if not isinstance(text, str):
        raise InputError(f"the message body must be a string, got {type(text).__name__}")
    try:
        return [Body(text.encode(), JSON_TYPE)]
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in the record's JSON
        raise InputError("the message body is not valid UTF-8 text") from None


def _object_body(key: str, data: bytes) -> list[Any]:
    import mimetypes

    from .adapters import Body

    ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return [Body(data, IMAGE_TYPE if ctype.startswith("image/") else ctype)]
