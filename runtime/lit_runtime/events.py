"""Lambda event shapes: which trigger sent it, the inputs it carries, and the answer it expects."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from .errors import InputError

# Lambda's synchronous payload limit; a bigger body can only come from a local caller.
MAX_BODY_BYTES = 6 * 1024 * 1024


@dataclass
class Request:
    trigger: str  # direct | apigw-rest | apigw-http | function-url | alb
    inputs: list[Any]  # bytes for images, nested lists for tensors


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
    return "direct"


def is_http(trigger: str) -> bool:
    return trigger != "direct"


def parse(event: Any, kind: str) -> Request:
    trigger = detect(event)
    if trigger == "direct":
        return Request(trigger, inputs_from_json(event, kind))
    return Request(trigger, _http_inputs(event, kind))


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64") from None


def inputs_from_json(doc: Any, kind: str) -> list[Any]:
    """The inputs of a JSON document: {"image": b64} / {"images": [...]} / {"input": t} / {"inputs": [...]}."""
    if not isinstance(doc, dict):
        raise InputError(f"expected a JSON object, got {type(doc).__name__}")
    if kind == "image":
        if "image" in doc:
            return [_b64(doc["image"], "'image'")]
        if isinstance(doc.get("images"), list) and doc["images"]:
            return [_b64(v, f"'images[{i}]'") for i, v in enumerate(doc["images"])]
        raise InputError('missing field: send {"image": "<base64>"} or {"images": [...]}')
    if "input" in doc:
        return [doc["input"]]
    if isinstance(doc.get("inputs"), list) and doc["inputs"]:
        return list(doc["inputs"])
    raise InputError('missing field: send {"input": [[...]]} or {"inputs": [[...], ...]}')


def _header(event: dict[str, Any], name: str) -> str:
    for key in ("headers", "multiValueHeaders"):
        for k, v in (event.get(key) or {}).items():
            if k.lower() == name:
                return str(v[0] if isinstance(v, list) and v else v)
    return ""


def _http_inputs(event: dict[str, Any], kind: str) -> list[Any]:
    body = event.get("body")
    if body is None or body == "":
        raise InputError("request body is empty")
    if not isinstance(body, str):
        raise InputError("request body must be a string")
    raw = _b64(body, "body") if event.get("isBase64Encoded") else body.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise InputError(f"body is {len(raw)} bytes; Lambda's synchronous limit is {MAX_BODY_BYTES}", 413)
    ctype = _header(event, "content-type").split(";")[0].strip().lower()
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        if kind != "image":
            raise InputError(f"content type {ctype} needs an image model; send application/json", 415)
        return [raw]
    if ctype in ("application/json", "") or ctype.endswith("+json"):
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"body is not valid JSON: {exc}") from None
        return inputs_from_json(doc, kind)
    raise InputError(f"unsupported content type {ctype!r}; send application/json or image/*", 415)


def http_answer(trigger: str, status: int, payload: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }
    if trigger == "alb":
        answer["statusDescription"] = f"{status} {'OK' if status < 400 else 'Error'}"
    return answer
