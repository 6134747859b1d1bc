"""SageMaker's inference handlers (`code/inference.py` of a model.tar.gz) as the function's hooks.

The handler runs as sagemaker-inference's Transformer runs it in SageMaker's framework containers
(transformer.py, 1.10.1), one body at a time:
- at init, `model_fn(model_dir)` (pre_model_fn and model_warmup_fn around it when defined);
- per body, `transform_fn(model, data, content_type, accept)` when defined, else
  `input_fn(data, content_type)` -> `predict_fn(data, model)` -> `output_fn(prediction, accept)`,
  the toolkit's defaults standing in for a missing input_fn (JSON, CSV, NPY and NPZ bodies to numpy)
  and output_fn (JSON, CSV or NPY, the first the accept header lists);
- a JSON or CSV body reaches the handler as text, any other as bytes; an accept of `*/*` or none
  becomes SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json);
- each function may take one more argument, the server's context (MMS's, with system_properties);
- output_fn's `(body, content_type)` or `body` (then of the accept type) is answered as a Raw body;
  a str is sent as UTF-8, other values as the model server sends them (JSON, indented).

Where this differs from SageMaker, it is earlier or clearer: a missing model_fn or predict_fn (with
no transform_fn) fails the init, so `lit build` refuses the image, instead of every request; a
toolkit error with a 4xx status answers that status with its message, and an unsupported content
type or accept 415, where SageMaker answers 500. Handlers that import sagemaker_inference get
`sagemaker_toolkit`, a compatible stand-in, unless the project installs the real package.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError, ServiceError
from . import Body, Raw

TOOLKIT = "sagemaker_inference"
UTF8_TYPES = ("application/json", "text/csv")  # bodies the toolkit decodes to str (content_types.UTF8_TYPES)
ANY = "*/*"
PIPELINE = ("input_fn", "predict_fn", "output_fn")


def install_toolkit(model_dir: Path, code_dir: Path) -> str:
    """Make `import sagemaker_inference` work: the real package when the image has it, else LIT's
    stand-in. Returns which."""
    if TOOLKIT in sys.modules and not getattr(sys.modules[TOOLKIT], "LIT_STAND_IN", False):
        return "sagemaker-inference"
    if TOOLKIT not in sys.modules and importlib.util.find_spec(TOOLKIT) is not None:
        return "sagemaker-inference"
    from . import sagemaker_toolkit as shim

    shim.LIT_STAND_IN = True  # type: ignore[attr-defined]
    sys.modules[TOOLKIT] = shim
    for name in shim.MODULES:
        module = importlib.import_module(f"{shim.__name__}.{name}")
        sys.modules[f"{TOOLKIT}.{name}"] = module
        setattr(shim, name, module)
    shim.environment.model_dir = str(model_dir)  # type: ignore[attr-defined]
    shim.environment.code_dir = str(code_dir)  # type: ignore[attr-defined]
    return "lit stand-in"


class RequestProcessor:
    """One request's headers, as MMS hands them to a handler (context.request_processor[0])."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self._headers

    def get_request_property(self, key: str) -> str | None:
        return self._headers.get(key)


class ServerContext:
    """The parts of Model Server's context a SageMaker handler reads: system_properties (model_dir,
    no GPU), the request's headers, and the response's content type, status and headers."""

    def __init__(self, model_dir: Path, model_name: str) -> None:
        self.model_name = model_name
        self.manifest: dict[str, Any] | None = None
        self.system_properties: dict[str, Any] = {
            "model_dir": str(model_dir),
            "gpu_id": None,  # Lambda has no GPU
            "batch_size": 1,
            "server_name": "LIT",
            "server_version": None,
        }
        self.request_processor = [RequestProcessor({})]
        self.response: dict[str, Any] = {}

    def start(self, content_type: str, accept: str) -> None:
        self.request_processor = [RequestProcessor({"Content-Type": content_type, "Accept": accept})]
        self.response = {"status": None, "phrase": None, "content_type": None, "headers": {}}

    def get_request_header(self, idx: int, key: str) -> str | None:
        headers = self.request_processor[0].get_request_properties()
        return next((v for k, v in headers.items() if k.lower() == key.lower()), None)

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return self.request_processor[0].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.response["content_type"] = value

    def get_response_content_type(self, idx: int) -> str | None:
        value: str | None = self.response.get("content_type")
        return value

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.response["status"], self.response["phrase"] = code, phrase

    def get_response_status(self, idx: int) -> tuple[int | None, str | None]:
        return self.response.get("status"), self.response.get("phrase")

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.response.setdefault("headers", {})[key] = value

    def get_response_headers(self, idx: int) -> dict[str, str]:
        headers: dict[str, str] = self.response.get("headers", {})
        return headers


class SageMakerAdapter:
    def __init__(self, settings: Any, model_dir: Path) -> None:
        spec = settings.adapter
        self.module_name: str = spec.handler.split(":")[0]
        self.code_dir = Path(spec.code)
        self.model_dir = Path(model_dir)
        self.source = self.module_name.replace(".", "/") + ".py"  # as messages name it
        self.context = ServerContext(self.model_dir, settings.name)
        self.toolkit = ""
        self.default_accept = "application/json"
        self.model: Any = None
        self.transform_fn: Callable[..., Any] = self._default_transform_fn
        self.fns: dict[str, Callable[..., Any]] = {}

    # --- init -------------------------------------------------------------------------------------
    def initialize(self, ctx: Any) -> None:
        self.toolkit = install_toolkit(self.model_dir, self.code_dir)
        module = self._import()
        defaults = importlib.import_module(f"{TOOLKIT}.default_inference_handler").DefaultInferenceHandler()
        self.default_accept = importlib.import_module(f"{TOOLKIT}.environment").Environment().default_accept
        own: dict[str, Callable[..., Any]] = {}
        for name in ("model_fn", "transform_fn", *PIPELINE):
            fn = getattr(module, name, None)
            if fn is not None and not callable(fn):
                raise ServiceError(f"{self.source}: {name} is a {type(fn).__name__}, not a function")
            if fn is not None:
                own[name] = fn
        if "model_fn" not in own:
            raise ServiceError(
                f"{self.source} defines no model_fn, and SageMaker's inference toolkit has none to fall back on; "
                "define model_fn(model_dir) that loads the model from the directory's files and returns it"
            )
        if "transform_fn" in own and any(name in own for name in PIPELINE):
            raise ServiceError(
                f"{self.source} defines transform_fn and {', '.join(n for n in PIPELINE if n in own)}: "
                "SageMaker's toolkit refuses the mix (transform_fn does all three); keep one or the other"
            )
        if "transform_fn" not in own and "predict_fn" not in own:
            raise ServiceError(
                f"{self.source} defines neither predict_fn nor transform_fn, and the toolkit's default "
                "predict_fn fails every request; define predict_fn(data, model) (or transform_fn)"
            )
        self.fns = {
            "model_fn": own["model_fn"],
            "input_fn": own.get("input_fn", defaults.default_input_fn),
            "predict_fn": own.get("predict_fn", defaults.default_predict_fn),
            "output_fn": own.get("output_fn", defaults.default_output_fn),
        }
        if "transform_fn" in own:
            self.transform_fn = own["transform_fn"]
        for name in ("pre_model_fn", "model_warmup_fn"):
            if callable(fn := getattr(module, name, None)):
                self.fns[name] = fn
        model_dir = str(self.model_dir)
        if "pre_model_fn" in self.fns:
            self._at_init("pre_model_fn", model_dir)
        self.model = self._at_init("model_fn", model_dir)
        if "model_warmup_fn" in self.fns:
            self._at_init("model_warmup_fn", model_dir, self.model)

    def _import(self) -> Any:
        try:
            return importlib.import_module(self.module_name)
        except Exception as exc:
            fix = ""
            if isinstance(exc, ModuleNotFoundError) and exc.name != self.module_name:
                fix = (
                    f"; add the package that provides {exc.name!r} to the project's requirements.txt "
                    "(lit build installs it into the image), or drop the import"
                )
            raise ServiceError(f"importing {self.source} failed{self._where(exc)}: {_what(exc)}{fix}") from exc

    def _at_init(self, name: str, *args: Any) -> Any:
        try:
            return self._call(name, self.fns[name], *args)
        except ServiceError:
            raise
        except Exception as exc:
            shown = ", ".join(repr(a) if isinstance(a, str) else "model" for a in args)
            raise ServiceError(f"{self.source}: {name}({shown}) failed{self._where(exc)}: {_what(exc)}") from exc

    def _where(self, exc: BaseException) -> str:
        """` at inference.py:LINE`: the deepest frame of the handler's own code, when there is one."""
        code = str(self.code_dir.resolve())
        frames = traceback.extract_tb(exc.__traceback__)
        if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
            frames.append(traceback.FrameSummary(exc.filename, exc.lineno, "<module>"))
        for frame in reversed(frames):
            path = Path(frame.filename)
            if str(path.resolve()).startswith(code + "/"):
                return f" at {path.resolve().relative_to(code).as_posix()}:{frame.lineno}"
        return ""

    # --- requests ---------------------------------------------------------------------------------
    def predict(self, inputs: list[Body], ctx: Any) -> list[Any]:
        return [self._one(body) for body in inputs]

    def _one(self, body: Body) -> Raw:
        content_type, accept = body.content_type, body.accept
        if not accept or accept == ANY:
            accept = self.default_accept
        data: Any = body.data
        if content_type in UTF8_TYPES:
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"the body is not UTF-8 text, as {content_type} must be") from None
        self.context.start(content_type, accept)
        try:
            result = self._call("transform_fn", self.transform_fn, self.model, data, content_type, accept)
        except InputError:
            raise
        except Exception as exc:
            answer = _answer_error(exc)
            if answer is exc:
                raise
            raise answer from exc
        response, response_type = (result[0], result[1]) if isinstance(result, tuple) else (result, accept)
        return Raw(self._bytes(response), response_type or accept)

    def _default_transform_fn(self, model: Any, data: Any, content_type: str, accept: str) -> Any:
        decoded = self._call("input_fn", self.fns["input_fn"], data, content_type)
        prediction = self._call("predict_fn", self.fns["predict_fn"], decoded, model)
        return self._call("output_fn", self.fns["output_fn"], prediction, accept)

    def _call(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), or fn(*args, context) when it takes one more (the toolkit's _run_handler_function)."""
        count = len(inspect.signature(fn).parameters)
        if count == len(args):
            return fn(*args)
        if count == len(args) + 1:
            return fn(*args, self.context)
        raise ServiceError(
            f"{self.source}: {name} takes {count} argument(s); SageMaker calls it with {len(args)} "
            f"(or {len(args) + 1} with the context)"
        )

    def _bytes(self, response: Any) -> bytes:
        """What the model server sends for output_fn's body: bytes as they are, a str as UTF-8,
        anything else as JSON (Model Server's otf_message_handler, indent 2)."""
        if isinstance(response, (bytes, bytearray, memoryview)):
            return bytes(response)
        if isinstance(response, str):
            return response.encode("utf-8")
        try:
            return json.dumps(response, indent=2).encode("utf-8")
        except TypeError:
            raise TypeError(
                f"{self.source}: output_fn returned a {type(response).__name__}, which the model server cannot "
                "send; return bytes or str (e.g. sagemaker_inference.encoder.encode(prediction, accept))"
            ) from None


def _what(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _answer_error(exc: Exception) -> Exception:
    """A client's error as InputError (answered with its status and message); others stay 500s."""
    if type(exc).__name__ == "UnsupportedFormatError":
        return InputError(" ".join(str(exc).split()), 415)
    status, message = getattr(exc, "status_code", None), getattr(exc, "message", None)
    if isinstance(status, int) and 400 <= status < 500 and isinstance(message, str):
        return InputError(message, status)
    return exc


ADAPTER = SageMakerAdapter
