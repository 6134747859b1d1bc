"""Handlers written for other model servers, run as the function's hooks.

A project made by `lit init --from ARCHIVE` keeps the archive's own handler code. lit.toml's
[adapter] names its kind, and the adapter for that kind maps the server's entry points onto LIT's:
- `mms`: MXNet Model Server / Multi Model Server, `handle(data, context)` or a service class;
- `torchserve`: TorchServe, a `BaseHandler` subclass or a `handle(data, context)` function;
- `sagemaker`: SageMaker's inference toolkit, `model_fn` / `input_fn` / `predict_fn` / `output_fn`
  (or `transform_fn`).

An adapter receives each example as a `Body`: the request's bytes as the client sent them, with
their content type and the accept header (events.py, input kind "body"). It answers one value per
body: plain JSON-able data, or a `Raw` answer the handler serialised itself. An HTTP request with
one body gets a Raw answer back as is, with the handler's content type, as the original server
would have sent it.

To add a kind: a module here with `ADAPTER` (a class taking `(settings, model_dir)` that implements
`Adapter`), and its name in KINDS.
"""

from __future__ import annotations

import base64
import importlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

KINDS = ("mms", "torchserve", "sagemaker")
WRITABLE_MODEL_DIR = Path("/tmp/lit-model")  # a writable copy, for handlers that write beside their model


@dataclass(frozen=True)
class Body:
    """One example as the client sent it."""

    data: bytes
    content_type: str
    accept: str = "application/json"


@dataclass(frozen=True)
class Raw:
    """An answer the handler serialised itself (SageMaker's output_fn, a handler returning bytes)."""

    data: bytes
    content_type: str


class Adapter(Protocol):
    def initialize(self, ctx: Any) -> None:
        """Load the handler and its model, once at init (ctx is the runtime's Context)."""

    def predict(self, inputs: list[Body], ctx: Any) -> list[Any]:
        """One answer per body, in order: JSON-able data or a Raw answer."""


def load(settings: Any) -> Adapter:
    """The adapter lit.json names, with the handler's directory importable."""
    spec = settings.adapter
    if spec.kind not in KINDS:
        from ..errors import ServiceError

        raise ServiceError(f"lit.json names adapter {spec.kind!r}; this runtime has {', '.join(KINDS)}")
    code = str(spec.code)
    if code not in sys.path:
        sys.path.insert(0, code)
    model_dir = settings.model_dir
    if spec.writable_model:
        model_dir = writable_copy(model_dir)
    module = importlib.import_module(f"{__name__}.{spec.kind}")
    adapter: Adapter = module.ADAPTER(settings, model_dir)
    return adapter


def writable_copy(model_dir: Path, dest: Path = WRITABLE_MODEL_DIR) -> Path:
    """The model directory copied to /tmp (Lambda's task root is read-only), once per sandbox."""
    if not dest.is_dir():
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(model_dir, partial, symlinks=False)
        partial.rename(dest)
    return dest


def hooks(settings: Any) -> dict[str, Callable[..., Any]]:
    """LIT's four hooks over the adapter: bodies pass through preprocess and postprocess untouched."""
    adapter = load(settings)

    def initialize(ctx: Any) -> None:
        adapter.initialize(ctx)

    return {
        "initialize": initialize,
        "preprocess": lambda inputs, ctx: list(inputs),
        "inference": adapter.predict,
        "postprocess": lambda outputs, ctx: list(outputs),
    }


def jsonable(answer: Any) -> Any:
    """An answer as it goes into {"predictions": [...]}: a Raw JSON answer parsed, text as a string,
    other bytes as base64."""
    if isinstance(answer, (bytes, bytearray)):
        answer = Raw(bytes(answer), "application/octet-stream")
    if not isinstance(answer, Raw):
        return answer
    ctype = answer.content_type.split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return json.loads(answer.data)
        except ValueError:
            pass
    if ctype.startswith("text/") or ctype in ("application/json", "text/csv"):
        try:
            return answer.data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"base64": base64.b64encode(answer.data).decode("ascii"), "content_type": answer.content_type}
