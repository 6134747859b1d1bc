"""What MXNet Model Server (MMS) and TorchServe hand a handler, for the two adapters over them
(mms.py, torchserve.py): the context object, each request's data and headers, and the entry point
found in the handler module the way each server's model loader finds it.

The servers' contract, kept here:
- at load, the entry point is found from the manifest's handler: `module:function`; `module`, whose
  `handle` function is the entry point; or a module defining exactly one class, instantiated with no
  arguments, whose `initialize(context)` runs once and whose `handle(data, context)` answers. A
  function entry point is called once as `handle(None, context)` to initialize;
- `data` is a list with one dict per request: the request body under "body" (JSON decoded for
  application/json, text for text/*, else a bytearray);
- the handler answers a list with exactly one answer per request (bytes, str or JSON-able), and may
  set each answer's content type and status through the context;
- a handler never sees more requests at once than the batch size the model was registered with
  (`context.system_properties["batch_size"]`, 1 unless the archive's model-config.yaml says more):
  a LIT request with more bodies calls the handler in turn on batches of that size.

Lambda has no GPU: `gpu_id` is None, as both servers report on a CPU host.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError, ServiceError
from . import Body, Raw

SHIMS = Path(__file__).resolve().parent / "shims"  # minimal `ts` and `mms` packages (no PyTorch)
TORCH = ("torch", "torchvision", "torchaudio", "torchtext", "torchdata")
JSON_TYPE = "application/json"


class PredictionException(Exception):
    """mms.service's and ts.utils.util's: raised by a handler to answer with its own status."""

    def __init__(self, message: str, error_code: int = 500) -> None:
        self.message = message
        self.error_code = error_code
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} : {self.error_code}"


class Headers(dict[str, Any]):
    """A request's headers: looked up without regard to case, as HTTP names are."""

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, str):
            for name, value in self.items():
                if name.lower() == key.lower():
                    return value
        return default


class RequestProcessor:
    """One request's headers in, and the handler's status and headers for its answer out."""

    def __init__(self, request_header: dict[str, Any]) -> None:
        self._status_code = 200
        self._reason_phrase: str | None = None
        self._response_header: dict[str, str] = {}
        self._request_header = request_header

    def get_request_property(self, key: str) -> Any:
        return self._request_header.get(key)

    def get_request_properties(self) -> dict[str, Any]:
        return self._request_header

    def report_status(self, code: int, reason_phrase: str | None = None) -> None:
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self) -> int:
        return self._status_code

    def get_response_status_phrase(self) -> str | None:
        return self._reason_phrase

    def add_response_property(self, key: str, value: str) -> None:
        self._response_header[key] = value

    def get_response_headers(self) -> dict[str, str]:
        return self._response_header

    def get_response_header(self, key: str) -> str | None:
        return self._response_header.get(key)


class Metrics:
    """The servers' metrics store: every call accepted and dropped (LIT logs its own per request)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self


class Context:
    """The context object both servers pass to initialize and handle (MMS's and TorchServe's
    `Context` have the same methods; TorchServe adds model_yaml_config)."""

    def __init__(
        self,
        model_name: str,
        model_dir: str,
        manifest: dict[str, Any] | None,
        batch_size: int,
        server_name: str,
        server_version: str,
        model_yaml_config: dict[str, Any] | None = None,
    ) -> None:
        self.model_name = model_name
        self.manifest = manifest
        self._system_properties: dict[str, Any] = {
            "model_dir": model_dir,
            "gpu_id": None,
            "batch_size": batch_size,
            "server_name": server_name,
            "server_version": server_version,
            "limit_max_image_pixels": True,
        }
        self.request_ids: dict[int, str] | None = None
        self.request_processor: list[RequestProcessor] = []
        self.metrics: Any = Metrics()
        self.model_yaml_config = model_yaml_config or {}
        self.stopping_criteria = None

    @property
    def system_properties(self) -> dict[str, Any]:
        return self._system_properties

    def get_request_id(self, idx: int = 0) -> str | None:
        return None if self.request_ids is None else self.request_ids.get(idx)

    def get_request_header(self, idx: int, key: str) -> Any:
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> dict[str, Any]:
        return self.request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx: int) -> str | None:
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx: int) -> tuple[int, str | None]:
        proc = self.request_processor[idx]
        return proc.get_response_status_code(), proc.get_response_status_phrase()

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        if self.request_processor and self.request_processor[idx] is not None:
            self.request_processor[idx].report_status(code, reason_phrase=phrase)

    def set_all_response_status(self, code: int = 200, phrase: str = "") -> None:
        for proc in self.request_processor:
            proc.report_status(code, reason_phrase=phrase)

    def get_response_headers(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].get_response_headers()

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.request_processor[idx].add_response_property(key, value)

    def get_sequence_id(self, idx: int) -> Any:
        return self.request_processor[idx].get_request_property("ts_request_sequence_id")


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """MAR-INF/MANIFEST.json, as both servers read it (None when the archive has none)."""
    path = model_dir / "MAR-INF" / "MANIFEST.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise ServiceError(f"{path} is not valid JSON: {exc}") from exc
    return manifest if isinstance(manifest, dict) else None


class ServerAdapter:
    """The handler of an MMS or TorchServe archive, called as its server calls it."""

    server = ""  # the server's name, for messages
    server_name = ""  # system_properties["server_name"]
    server_version = ""

    def __init__(self, settings: Any, model_dir: Path) -> None:
        spec = settings.adapter
        self.handler: str = spec.handler
        self.code = Path(spec.code)
        self.model_dir = Path(model_dir)
        self.manifest = read_manifest(self.model_dir)
        model = (self.manifest or {}).get("model", {})
        self.yaml_config = self.model_config(model)
        self.batch_size = self.max_batch()
        name = model.get("modelName") if isinstance(model, dict) else None
        self.context = Context(
            str(name or settings.name),
            str(self.model_dir),
            self.manifest,
            self.batch_size,
            self.server_name,
            self.server_version,
            self.yaml_config,
        )
        self.entry: Callable[..., Any] | None = None

    def model_config(self, model: dict[str, Any]) -> dict[str, Any]:
        """The model's own configuration (TorchServe's model-config.yaml); none for MMS."""
        return {}

    def max_batch(self) -> int:
        return 1  # both servers' default when a model is registered

    # -- load ------------------------------------------------------------------------------------

    def initialize(self, ctx: Any) -> None:
        module_name, _, attr = self.handler.partition(":")
        module = self.import_handler(module_name)
        entry, init = self.entry_point(module, attr or None)
        try:
            init(self.context)
        except Exception as exc:
            raise ServiceError(
                f"the {self.server} handler {self.handler} failed to initialize: {type(exc).__name__}: {exc}"
                f"{self._where(exc)}"
            ) from exc
        self.entry = entry

    def handler_file(self, module_name: str) -> Path:
        return self.code.joinpath(*module_name.split(".")).with_suffix(".py")

    def import_handler(self, module_name: str) -> Any:
        top = module_name.split(".")[0]
        cached = sys.modules.get(top)
        if cached is not None and not _inside(getattr(cached, "__file__", None) or "", self.code):
            # a module of that name from elsewhere (another archive's, in one process): the archive's own wins
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]
        importlib.invalidate_caches()
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            where = self._where(exc) or f" (in {self.handler_file(module_name)})"
            if missing in TORCH:
                raise ServiceError(
                    f"the {self.server} handler imports {exc.name}{where}, and a LIT image carries no PyTorch: "
                    "export the model to ONNX (torch.onnx.export), make the .onnx the archive's serialized file, "
                    "and use self.model (an onnxruntime.InferenceSession, as TorchServe's BaseHandler makes for a "
                    ".onnx) and numpy in the handler instead of torch"
                ) from exc
            if missing == exc.name == module_name.split(".")[0]:
                raise ServiceError(
                    f"the {self.server} handler module {module_name!r} is not in {self.code}; "
                    "point [adapter] handler at a module of the archive"
                ) from exc
            raise ServiceError(
                f"the {self.server} handler {module_name} failed to import: No module named {exc.name!r}{where}; "
                "add the package that provides it to the project's requirements.txt"
            ) from exc
        except Exception as exc:
            raise ServiceError(
                f"the {self.server} handler {module_name} failed to import: {type(exc).__name__}: {exc}"
                f"{self._where(exc)}"
            ) from exc

    def _where(self, exc: BaseException) -> str:
        """` (at FILE:LINE)`: the deepest frame of the traceback in the archive's own code."""
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _inside(f.filename, self.code)]
        if isinstance(exc, SyntaxError) and exc.filename and _inside(exc.filename, self.code):
            return f" (at {exc.filename}:{exc.lineno})"
        return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""

    def entry_point(self, module: Any, attr: str | None) -> tuple[Callable[..., Any], Callable[[Any], Any]]:
        """(handle, initialize) as the servers' model loaders find them."""
        target = getattr(module, attr or "handle", None)
        if inspect.isclass(target):
            return self._instance(target)
        if callable(target):
            function = target
            return function, lambda context: function(None, context)
        # no such function: both servers then take the module's one class
        classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
        if len(classes) != 1:
            names = ", ".join(c.__name__ for c in classes) or "none"
            raise ServiceError(
                f"the {self.server} handler module {module.__name__} defines no {attr or 'handle'} function and "
                f"{len(classes)} classes ({names}); the server needs one or the other: name the entry point "
                "as module:function or module:Class in [adapter] handler"
            )
        return self._instance(classes[0])

    def _instance(self, cls: type) -> tuple[Callable[..., Any], Callable[[Any], Any]]:
        try:
            service = cls()
        except Exception as exc:
            raise ServiceError(f"{cls.__name__}() failed: {type(exc).__name__}: {exc}{self._where(exc)}") from exc
        handle = getattr(service, "handle", None)
        if not callable(handle):
            raise ServiceError(f"the {self.server} handler class {cls.__name__} has no handle(data, context) method")
        init = getattr(service, "initialize", None)
        return handle, init if callable(init) else (lambda context: None)

    # -- requests --------------------------------------------------------------------------------

    def predict(self, inputs: list[Body], ctx: Any) -> list[Any]:
        answers: list[Any] = []
        rid = getattr(ctx, "request_id", "") or "lit"
        for start in range(0, len(inputs), self.batch_size):
            answers += self._call(inputs[start : start + self.batch_size], rid, start)
        return answers

    def _call(self, bodies: list[Body], rid: str, offset: int) -> list[Any]:
        assert self.entry is not None, "initialize first"
        data = [{"body": _decode(b)} for b in bodies]
        procs = [RequestProcessor(_headers(b)) for b in bodies]
        self.context.request_ids = {
            i: rid if len(bodies) == 1 and not offset else f"{rid}-{offset + i}" for i in range(len(bodies))
        }
        self.context.request_processor = procs
        try:
            ret = self.entry(data, self.context)
        except Exception as exc:
            code = getattr(exc, "error_code", None)
            if type(exc).__name__ == "PredictionException" and isinstance(code, int):
                raise InputError(str(getattr(exc, "message", exc)), code) from exc
            raise
        if not isinstance(ret, list):
            raise ServiceError(
                f"the {self.server} handler {self.handler} returned {type(ret).__name__} for {len(bodies)} "
                f"input(s); it must return a list with one answer per input (the server answers 503 otherwise)"
            )
        if len(ret) != len(bodies):
            raise ServiceError(
                f"the {self.server} handler {self.handler} returned {len(ret)} answer(s) for {len(bodies)} input(s); "
                "it must return one answer per input, in order (the server answers 503 otherwise)"
            )
        answers = []
        for value, proc in zip(ret, procs):
            status = proc.get_response_status_code()
            if isinstance(status, int) and status >= 400:
                raise InputError(proc.get_response_status_phrase() or _text(value) or f"status {status}", status)
            answers.append(self._answer(value, proc.get_response_header("content-type")))
        return answers

    def _answer(self, value: Any, ctype: str | None) -> Raw:
        """An answer as the server would have sent it: bytes and text as they are, anything else as
        JSON (MMS's json.dumps(value, indent=2)); the content type the handler set, if any."""
        if isinstance(value, (bytes, bytearray)):
            return Raw(bytes(value), ctype or "application/octet-stream")
        if isinstance(value, str):
            if ctype is None:
                try:
                    json.loads(value)
                    ctype = JSON_TYPE
                except ValueError:
                    ctype = "text/plain; charset=utf-8"
            return Raw(value.encode("utf-8"), ctype)
        try:
            data = json.dumps(value, indent=2)
        except (TypeError, ValueError) as exc:
            raise ServiceError(
                f"the {self.server} handler {self.handler} answered a {type(value).__name__} that is not JSON: "
                f"{exc}; return bytes, str or lists, dicts and plain numbers (e.g. array.tolist())"
            ) from exc
        return Raw(data.encode("utf-8"), ctype or JSON_TYPE)


def _inside(filename: str, root: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


def _decode(body: Body) -> Any:
    """A body as the servers' backends hand it over: JSON decoded for application/json, text for
    text/*, else a bytearray (JSON or text that does not decode stays bytes, as TorchServe's does)."""
    ctype = body.content_type.split(";")[0].strip().lower()
    try:
        if ctype == JSON_TYPE:
            return json.loads(body.data.decode("utf-8"))
        if ctype.startswith("text"):
            return body.data.decode("utf-8")
    except ValueError:
        pass
    return bytearray(body.data)


def _headers(body: Body) -> Headers:
    """What the servers put in a request's headers: the body parameter's content type, then the
    HTTP headers themselves."""
    return Headers(
        {"body": {"content-type": body.content_type}, "Content-Type": body.content_type, "Accept": body.accept}
    )


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else "" if value is None else str(value)


def add_shims() -> None:
    """The minimal `ts` / `mms` packages on the import path, after anything the image installed."""
    if str(SHIMS) not in sys.path:
        sys.path.append(str(SHIMS))
