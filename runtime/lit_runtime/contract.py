"""The function's contract, derived in one place from its configuration and its graph: what a request
may hold (per input kind, for direct invokes, HTTP routes and batch records) and what each task
answers, as JSON Schema (2020-12), and OpenAPI 3.1 for the HTTP route.

`lit schema DIR` runs `python -m lit_runtime.contract [--openapi]` in the built image, so the
contract is the one the image serves: its own lit.json, and its graph's inputs and outputs.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

from . import answers
from .engine import Port

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A request's fields per input kind: (one example, a list of them). events.py parses requests by
# these names and the schema below states them, so the parser and the contract cannot disagree.
FIELDS = {"text": ("text", "texts"), "image": ("image", "images"), "tensor": ("input", "inputs")}
BODY = "body"  # an adapter's input kind: the request as sent, read by the archive's own handler
NPY_FIELD = "npy"  # tensor models: an .npy batch, or {input name: .npy batch}
ACCEPT_FIELD = "accept"
NUMBER = {"float32": "number", "float64": "number", "float16": "number", "bool": "boolean"}


def _scalar(dtype: str) -> dict[str, Any]:
    return {"type": NUMBER.get(dtype, "integer")}


def _tensor(shape: tuple[int | None, ...] | None, dtype: str) -> dict[str, Any]:
    """Nested arrays for one example (the batch dimension dropped), fixed lengths where the graph has them."""
    schema = _scalar(dtype)
    for dim in reversed(list(shape or ())[1:] if shape else []):
        schema = {
            "type": "array",
            "items": schema,
            **({"minItems": dim, "maxItems": dim} if isinstance(dim, int) else {}),
        }
    if shape is None:
        schema = {"description": "a tensor: nested arrays of numbers (its shape is not declared by the graph)"}
    return schema


def _one_or_many(one: str, many: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "object", "required": [one], "properties": {one: item}},
        {"type": "object", "required": [many], "properties": {many: {"type": "array", "items": item, "minItems": 1}}},
    ]


def request(conf: Any, inputs: tuple[Port, ...]) -> dict[str, Any]:
    """A direct invoke's event (and an SQS/SNS/Kinesis record's JSON body, an HTTP JSON body)."""
    if conf.input_kind == BODY:
        return {
            "description": "the request as the archive's handler reads it (lit_runtime.adapters): "
            '{"body": ..., "isBase64Encoded", "contentType", "accept"} as an HTTP request carries it; '
            '{"image": base64} or {"images": [...]} (each sent as application/x-image); or any other JSON, '
            "sent as an application/json body"
        }
    accept = {"enum": list(answers.FORMS), "description": "json (default), or the answer as .npy/.npz (base64)"}
    one, many = FIELDS[conf.input_kind]
    if conf.input_kind == "text":
        text = {"type": "string", "minLength": 1, "description": "raw text; tokenized by the function"}
        shapes = _one_or_many(one, many, text)
    elif conf.input_kind == "image":
        image = {"type": "string", "contentEncoding": "base64", "description": "JPEG, PNG, BMP, WebP or TIFF bytes"}
        shapes = _one_or_many(one, many, image)
    else:
        if len(inputs) > 1:
            example: dict[str, Any] = {
                "type": "object",
                "required": [p.name for p in inputs],
                "properties": {p.name: _tensor(p.shape, p.dtype) for p in inputs},
            }
            npy: dict[str, Any] = {
                "type": "object",
                "properties": {p.name: {"type": "string", "contentEncoding": "base64"} for p in inputs},
            }
        else:
            port = inputs[0] if inputs else Port("data", "float32", None)
            example = _tensor(port.shape, port.dtype)
            npy = {"type": "string", "contentEncoding": "base64", "description": "an .npy batch (np.save)"}
        shapes = [
            *_one_or_many(one, many, example),
            {"type": "object", "required": [NPY_FIELD], "properties": {NPY_FIELD: npy}},
        ]
    for shape in shapes:
        shape["properties"][ACCEPT_FIELD] = accept
    return {"oneOf": shapes}


def prediction(conf: Any, task: str | None, outputs: tuple[Port, ...]) -> dict[str, Any]:
    """One example's answer, per task."""
    if conf.input_kind == BODY:
        return {"description": "the handler's answer (JSON it serialised is read back; other bytes as base64)"}
    labels = {"enum": list(conf.labels)} if conf.labels else {"type": "string"}
    if task == "classify":
        entry = {
            "type": "object",
            "required": ["label", "index", "probability"],
            "properties": {
                "label": labels,
                "index": {"type": "integer", "minimum": 0},
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
            },
        }
        return {"type": "array", "items": entry, "minItems": 1, "maxItems": conf.top_k}
    if task == "embed":
        from .tasks.embed import TASK

        port = TASK.output(outputs, conf)
        dim = port.shape[-1] if port is not None and port.shape else None
        fixed = {"minItems": dim, "maxItems": dim} if isinstance(dim, int) else {}
        return {"type": "array", "items": {"type": "number"}, **fixed, "description": "one vector per input"}
    if task == "detect":
        box = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
        found = {
            "type": "object",
            "required": ["box", "score", "class", "label"],
            "properties": {
                "box": {**box, "description": "x1, y1, x2, y2 in the caller's image pixels"},
                "score": {"type": "number"},
                "class": {"type": "integer"},
                "label": {"type": "string"},
            },
        }
        return {"type": "array", "items": found, "maxItems": conf.detect.max_detections}
    if task == "raw" and len(outputs) == 1:
        return _tensor(outputs[0].shape, outputs[0].dtype)
    if task == "raw" and outputs:
        return {
            "type": "object",
            "required": [p.name for p in outputs],
            "properties": {p.name: _tensor(p.shape, p.dtype) for p in outputs},
        }
    return {"description": "decided on the first request (the graph does not declare its outputs)"}


ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
        }
    },
}


def response(conf: Any, task: str | None, outputs: tuple[Port, ...]) -> dict[str, Any]:
    """A direct or HTTP answer: predictions per input in JSON, or arrays."""
    arrays = {
        "type": "object",
        "required": ["arrays"],
        "properties": {
            "npy": {"type": "string", "contentEncoding": "base64"},
            "npz": {"type": "string", "contentEncoding": "base64"},
            "arrays": {"type": "object"},
        },
    }
    json_answer = {
        "type": "object",
        "required": ["predictions"],
        "properties": {"predictions": {"type": "array", "items": prediction(conf, task, outputs)}},
    }
    return {"oneOf": [json_answer, arrays]}


def batch_response(conf: Any, task: str | None, outputs: tuple[Port, ...]) -> dict[str, Any]:
    """An SQS, Kinesis, DynamoDB, S3 or SNS invoke's answer: one result per record."""
    result = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "predictions": {"type": "array", "items": prediction(conf, task, outputs)},
            "error": ERROR["properties"]["error"],
            "output": {"type": "string", "description": "s3:// URL of the written answer (S3 triggers)"},
        },
    }
    failure = {"type": "object", "required": ["itemIdentifier"], "properties": {"itemIdentifier": {"type": "string"}}}
    return {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {"type": "array", "items": result},
            "batchItemFailures": {"type": "array", "items": failure},
        },
    }


def schema(conf: Any, task: str | None, inputs: tuple[Port, ...], outputs: tuple[Port, ...]) -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "title": f"LIT function {conf.name}",
        "x-lit": {
            "input": conf.input_kind,
            "task": task,
            "inputs": [p.spec() for p in inputs],
            "outputs": [p.spec() for p in outputs],
        },
        "$defs": {
            "request": request(conf, inputs),
            "response": response(conf, task, outputs),
            "batch_response": batch_response(conf, task, outputs),
            "error": ERROR,
        },
    }


def openapi(conf: Any, task: str | None, inputs: tuple[Port, ...], outputs: tuple[Port, ...]) -> dict[str, Any]:
    """OpenAPI 3.1 for the function's HTTP route (a function URL, API Gateway or an ALB)."""
    raw_body = {
        "image": ("image/*", {"type": "string", "contentMediaType": "image/*"}),
        "text": ("text/plain", {"type": "string"}),
        "tensor": ("application/x-npy", {"type": "string", "contentMediaType": "application/x-npy"}),
        BODY: ("*/*", {"type": "string", "description": "any body: the handler reads it with its content type"}),
    }[conf.input_kind]
    error = {"application/json": {"schema": ERROR}}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"LIT function {conf.name}", "version": "1.0", "description": f"task: {task or 'auto'}"},
        "paths": {
            "/": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": request(conf, inputs)},
                            raw_body[0]: {"schema": raw_body[1]},
                        },
                    },
                    "parameters": [
                        {
                            "name": "Accept",
                            "in": "header",
                            "schema": {"enum": ["application/json", "application/x-npy", "application/x-npz"]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "one prediction per input (or the task's arrays, by Accept)",
                            "content": {
                                "application/json": {"schema": response(conf, task, outputs)["oneOf"][0]},
                                "application/x-npy": {
                                    "schema": {"type": "string", "contentMediaType": "application/x-npy"}
                                },
                                "application/x-npz": {
                                    "schema": {"type": "string", "contentMediaType": "application/x-npz"}
                                },
                            },
                        },
                        "400": {"description": "the input is malformed", "content": error},
                        "406": {"description": "the answer has no form the Accept header names", "content": error},
                        "413": {
                            "description": "the request, or its answer, is over Lambda's 6 MB",
                            "content": error,
                        },
                        "415": {"description": "the content type does not fit the input kind", "content": error},
                        "500": {"description": "the model or a hook failed; see the logs", "content": error},
                    },
                }
            }
        },
    }


def of(app: Any) -> tuple[Any, str | None, tuple[Port, ...], tuple[Port, ...]]:
    from . import defaults

    ctx = app.ctx
    task = ctx.task.task.name if ctx.task is not None else ctx.settings.task
    return ctx.settings, task, defaults.input_ports(ctx), defaults.output_ports(ctx)


def main(argv: list[str]) -> int:
    from .app import App
    from .errors import ModelError, ServiceError
    from .settings import ConfigError

    try:
        with contextlib.redirect_stdout(sys.stderr):  # init's log line is not the contract
            app = App.start()
    except (ConfigError, ModelError, ServiceError) as exc:
        print(f"lit-schema: {' '.join(str(exc).split())}", file=sys.stderr)
        return 3
    doc = openapi(*of(app)) if "--openapi" in argv else schema(*of(app))
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
