"""A function project: a directory with lit.toml (and optionally service.py), validated up front."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import lambda_limits as limits
from .errors import ConfigError
from .gate import Gate
from .gate import parse as parse_gate

CONFIG = "lit.toml"
FORMATS = ("mxnet", "onnx")
ENGINES = ("mxnet", "onnxruntime")
DEFAULT_ENGINE = {"mxnet": "mxnet", "onnx": "onnxruntime"}  # by [model] format
INPUTS = ("image", "tensor", "text")
BODY = "body"  # an [adapter]'s input: each request's bytes as sent, for the archive's own handler
ADAPTERS = ("mms", "torchserve", "sagemaker")  # runtime/lit_runtime/adapters
TASKS = ("classify", "embed", "detect", "raw")  # runtime/lit_runtime/tasks; none set: chosen from the graph
POOLING = ("mean", "cls", "max")
PADDING = ("longest", "max_length")
COLORS = ("rgb", "bgr", "gray")
MB_PER_VCPU = limits.MB_PER_VCPU
MAX_EXAMPLE_MB = 50  # one example is no larger than the largest input LIT reads (an S3 object)

# Every key lit.toml accepts, by table; anything else is a typo we report.
_KEYS: dict[str, set[str]] = {
    "": {"name", "model", "image", "text", "function", "build", "output", "embed", "detect", "deploy", "adapter"},
    "adapter": {"kind", "handler", "code", "writable_model", "source"},
    "model": {"path", "format", "engine", "input", "task", "labels", "top_k", "epoch", "sha256", "input_shape"},
    "embed": {"pooling", "normalize", "output"},
    "detect": {"score_threshold", "iou_threshold", "max_detections"},
    "text": {"tokenizer", "max_length", "padding", "truncation"},
    "output": {"s3"},
    "image": {"size", "color", "scale", "mean", "std", "max_pixels"},
    "function": {
        "memory",
        "timeout",
        "ephemeral_storage",
        "architecture",
        "environment",
        "reserved_concurrency",
        "provisioned_concurrency",
        "snapstart",
        "tags",
        "vpc",
    },
    "build": {"base", "requirements", "exclude"},
    "deploy": {"gate"},
}


@dataclass(frozen=True)
class Function:
    memory: int = 1024
    timeout: int = 30
    ephemeral_storage: int = 512
    architecture: str = "x86_64"
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None  # None: the account's unreserved pool
    provisioned_concurrency: int = 0  # environments kept initialized on the alias
    snapstart: bool = False  # published versions are initialized once and restored from a snapshot
    tags: dict[str, str] = field(default_factory=dict)
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()

    @property
    def cpus(self) -> float:
        return round(self.memory / MB_PER_VCPU, 3)


@dataclass(frozen=True)
class Text:
    tokenizer: Path | None  # None when it comes with a model bucket's files
    max_length: int = 128
    padding: str = "longest"
    truncation: bool = True


@dataclass(frozen=True)
class Embed:
    """[embed]: how a [batch, tokens, dim] output becomes one vector per input."""

    pooling: str = "mean"
    normalize: bool = False
    output: str | None = None  # None: chosen by shape and name


@dataclass(frozen=True)
class Detect:
    """[detect]: which detections an answer keeps."""

    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 100


@dataclass(frozen=True)
class Image:
    """How an image input becomes the model's tensor: resized, in this colour order, then
    (pixel / scale - mean) / std per channel; larger images are refused before decoding."""

    size: tuple[int, int] = (224, 224)  # width, height
    color: str = "rgb"
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0,)  # one value, or one per channel
    std: tuple[float, ...] = (1.0,)
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class Adapter:
    """[adapter]: the handler of another model server's archive, kept as it was (lit init --from)."""

    kind: str  # mms | torchserve | sagemaker
    handler: str  # module, module:function or module:Class, as the archive names it
    code: Path  # the directory it imports from, inside the project
    writable_model: bool = False  # the handler writes beside its model: give it a copy in /tmp
    source: str | None = None  # the archive the project was made from (for `lit compare`)


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    model_path: Path | None  # None when the model is fetched at cold start (model_url)
    model_url: str | None
    model_format: str
    engine: str  # mxnet | onnxruntime: which base the image starts FROM and which engine serves
    input_kind: str
    labels: Path | None
    function: Function
    base: str | None
    requirements: Path | None
    exclude: tuple[str, ...]
    output_s3: str | None = None  # s3://bucket/prefix for the predictions of S3-triggered runs
    text: Text | None = None
    input_shape: tuple[int, ...] = ()
    image: Image = field(default_factory=Image)
    top_k: int = 5
    epoch: int | None = None  # None: the newest NAME-NNNN.params
    sha256: str | None = None  # the model bucket's manifest digest (with model_url)
    task: str | None = None  # None: chosen from the graph when the image is checked
    embed: Embed = field(default_factory=Embed)
    detect: Detect = field(default_factory=Detect)
    gate: Gate | None = None  # [deploy.gate]: lit eval before `lit deploy` moves the alias
    adapter: Adapter | None = None  # [adapter]: another server's handler instead of LIT's hooks

    @property
    def converts(self) -> bool:
        """Whether the model changes format while the image is built (ONNX -> MXNet, MXNet -> ONNX)."""
        native = {"mxnet": "mxnet", "onnxruntime": "onnx"}[self.engine]
        return self.model_format != native and self.model_path is not None and self.adapter is None

    @property
    def service(self) -> Path | None:
        path = self.root / "service.py"
        return path if path.is_file() else None

    @property
    def image_repo(self) -> str:
        return f"lit-{self.name}"


def _where(table: str, key: str) -> str:
    return f"[{table}] {key}" if table else key


def _get(doc: dict[str, Any], table: str, key: str, kind: type | tuple[type, ...], default: Any, path: Path) -> Any:
    section = doc if not table else doc.get(table, {})
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(
            f"{path}: {_where(table, key)} must be {want}, got {value!r}", f"set {_where(table, key)} to a {want}"
        )
    return value


def _check_keys(doc: dict[str, Any], path: Path) -> None:
    for table, allowed in _KEYS.items():
        section = doc if not table else doc.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [{table}] must be a table", f"write it as a [{table}] section")
        for key in section:
            if key not in allowed:
                raise ConfigError(
                    f"{path}: unknown key {_where(table, key)!r}",
                    f"use one of: {', '.join(sorted(allowed))}",
                )


def _range(value: int, low: int, high: int, what: str, path: Path) -> int:
    if not low <= value <= high:
        raise ConfigError(f"{path}: {what} = {value} is outside Lambda's range {low}..{high}", f"set {what} within it")
    return value


def load(root: Path) -> Project:
    root = root.resolve()
    path, doc = _read(root)
    name = _name(doc, path)
    model_url, sha256, model_path = _model_source(doc, path, root)
    fmt, engine = _format_and_engine(doc, path, model_path, model_url)
    adapter = _adapter(doc, path, root, model_path)
    kind = _get(doc, "model", "input", str, BODY if adapter else "image", path)
    if adapter is not None and kind != BODY:
        raise ConfigError(
            f"{path}: [model] input is {kind!r}, but an [adapter] handler reads each request's body as sent",
            f'remove [model] input (or set it to "{BODY}")',
        )
    if kind not in INPUTS and not (adapter and kind == BODY):
        why = " (it is for an [adapter] handler)" if kind == BODY else ""
        raise ConfigError(f"{path}: [model] input {kind!r} is not known{why}", f"use one of: {', '.join(INPUTS)}")
    task = _get(doc, "model", "task", str, None, path)
    if adapter is not None and (task is not None or (root / "service.py").is_file()):
        what = "[model] task" if task is not None else "service.py"
        raise ConfigError(
            f"{path}: {what} is set, but the [adapter]'s handler answers every request itself, so it would never be used",
            f"remove {what} (or the [adapter] table, to serve the model with LIT's own hooks)",
        )
    if task is not None and task not in TASKS:
        raise ConfigError(
            f"{path}: [model] task {task!r} is not known",
            f"use one of: {', '.join(TASKS)} (or drop it: LIT chooses from the model's outputs)",
        )
    labels, top_k, epoch = _answers(doc, path, root)
    shape = _input_shape(doc, path, fmt, engine, kind)
    text = _text(doc, path, root, model_path, kind)
    _unused_tables(doc, path, kind, task)
    output = _get(doc, "output", "s3", str, None, path)
    if output is not None and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,62}(/.*)?", output):
        raise ConfigError(
            f"{path}: [output] s3 = {output!r} is not an s3://bucket/prefix URL",
            'e.g. s3 = "s3://my-bucket/predictions"',
        )
    req_rel = _get(doc, "build", "requirements", str, None, path)
    requirements = _project_file(root, req_rel, "[build] requirements", path) if req_rel else root / "requirements.txt"
    if req_rel and not requirements.is_file():
        raise ConfigError(f"{path}: requirements file {req_rel!r} does not exist", "create it or remove the key")
    deploy = doc.get("deploy", {})
    return Project(
        root=root,
        name=name,
        model_path=model_path,
        model_url=model_url,
        model_format=fmt,
        engine=engine,
        input_kind=kind,
        labels=labels,
        function=_function(doc, path),
        base=_get(doc, "build", "base", str, None, path),
        requirements=requirements if requirements.is_file() else None,
        exclude=_strings(doc, "build", "exclude", path),
        output_s3=output,
        text=text,
        input_shape=tuple(shape),
        image=_image(doc, path),
        top_k=top_k,
        epoch=epoch,
        sha256=sha256 if model_url else None,
        task=task,
        embed=_embed(doc, path),
        detect=_detect(doc, path),
        gate=parse_gate(deploy["gate"], root, f"{path}: [deploy.gate]") if "gate" in deploy else None,
        adapter=adapter,
    )


def _adapter(doc: dict[str, Any], path: Path, root: Path, model_path: Path | None) -> Adapter | None:
    """[adapter]: kind and handler required; code defaults to the model directory."""
    if "adapter" not in doc:
        return None
    kind = _get(doc, "adapter", "kind", str, None, path)
    if kind not in ADAPTERS:
        raise ConfigError(f"{path}: [adapter] kind {kind!r} is not known", f"use one of: {', '.join(ADAPTERS)}")
    handler = _get(doc, "adapter", "handler", str, None, path)
    if not handler or not re.fullmatch(r"[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?", handler):
        raise ConfigError(
            f"{path}: [adapter] handler {handler!r} is not module, module:function or module:Class",
            'e.g. handler = "mxnet_vision_service:handle" (as the archive\'s manifest names it)',
        )
    code_rel = _get(doc, "adapter", "code", str, None, path)
    if code_rel is None:
        if model_path is None or not model_path.is_dir():
            raise ConfigError(f"{path}: [adapter] code is missing", "set it to the directory holding the handler")
        code = model_path
    else:
        code = _project_file(root, code_rel, "[adapter] code", path)
    if not code.is_dir():
        raise ConfigError(f"{path}: [adapter] code {code} is not a directory", "point it at the handler's directory")
    module = handler.split(":")[0].split(".")
    if not any((code.joinpath(*module[:-1]) / name).exists() for name in (module[-1] + ".py", module[-1])):
        raise ConfigError(
            f"{path}: [adapter] handler module {handler.split(':')[0]!r} is not in {code}",
            "point [adapter] code at the directory holding it, or fix the handler's name",
        )
    return Adapter(
        kind=kind,
        handler=handler,
        code=code,
        writable_model=_get(doc, "adapter", "writable_model", bool, False, path),
        source=_get(doc, "adapter", "source", str, None, path),
    )


def _read(root: Path) -> tuple[Path, dict[str, Any]]:
    path = root / CONFIG
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist", "pass the directory that holds lit.toml")
    if not path.is_file():
        raise ConfigError(f"{path} not found", f"create one with `lit init {root}`")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the syntax at the line shown") from None
    _check_keys(doc, path)
    return path, doc


def _name(doc: dict[str, Any], path: Path) -> str:
    name = _get(doc, "", "name", str, None, path)
    if name is None:
        raise ConfigError(f"{path}: missing key 'name'", 'add name = "my-function" at the top')
    if not limits.NAME.match(name):
        raise ConfigError(
            f"{path}: name {name!r} is not usable as an image and function name",
            "use lowercase letters, digits, '-' and '_' (at most 64), starting and ending with a letter or digit",
        )
    return str(name)


def _model_source(doc: dict[str, Any], path: Path, root: Path) -> tuple[str | None, str | None, Path | None]:
    """[model] path: a model bucket's URL (with its sha256), or a path inside the project."""
    if "model" not in doc:
        raise ConfigError(f"{path}: missing [model] table", 'add [model] with path = "model" and format = "mxnet"')
    model_rel = _get(doc, "model", "path", str, None, path)
    if model_rel is None:
        raise ConfigError(f"{path}: missing key [model] path", 'add path = "model" (a directory of model files)')
    model_url = model_rel if model_rel.startswith(("s3://", "https://", "http://")) else None
    sha256 = _get(doc, "model", "sha256", str, None, path)
    if model_url is not None:
        if not sha256 or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ConfigError(
                f"{path}: [model] path is a model bucket ({model_url}) but [model] sha256 is missing or not a sha256",
                f"run `lit model push MODEL_DIR {model_url}` and copy the sha256 it prints into [model]",
            )
        return model_url, sha256, None
    if not _inside(root, model_rel):
        raise ConfigError(
            f"{path}: [model] path {model_rel!r} is outside the project ({root})",
            "copy the model into the project (or link it there: a symlink inside the project is followed) "
            "and point [model] path at it, so that what the image holds is what the project holds",
        )
    model_path = (root / model_rel).resolve()
    if not model_path.exists():
        raise ConfigError(
            f"{path}: model path {model_rel!r} does not exist ({model_path})",
            "train or copy the model there, or point [model] path at it",
        )
    return None, sha256, model_path


def _format_and_engine(
    doc: dict[str, Any], path: Path, model_path: Path | None, model_url: str | None
) -> tuple[str, str]:
    fmt = _get(doc, "model", "format", str, "mxnet", path)
    if fmt not in FORMATS:
        raise ConfigError(f"{path}: [model] format {fmt!r} is not supported", f"use one of: {', '.join(FORMATS)}")
    if (
        model_path is not None
        and fmt == "mxnet"
        and not (model_path.is_dir() and any(model_path.glob("*-symbol.json")))
    ):
        raise ConfigError(
            f"{path}: no NAME-symbol.json in {model_path}",
            "export the model with HybridBlock.export(prefix) or mx.model.save_checkpoint into that directory",
        )
    engine = _get(doc, "model", "engine", str, DEFAULT_ENGINE[fmt], path)
    if engine not in ENGINES:
        raise ConfigError(f"{path}: [model] engine {engine!r} is not known", f"use one of: {', '.join(ENGINES)}")
    if model_url is not None and fmt != {"mxnet": "mxnet", "onnxruntime": "onnx"}[engine]:
        raise ConfigError(
            f"{path}: a {fmt} model from a model bucket cannot run on {engine}: it would have to be converted "
            "while the image is built",
            f'bake it in (a local [model] path), or set [model] engine = "{DEFAULT_ENGINE[fmt]}"',
        )
    if model_path is not None and fmt == "onnx":
        onnx_files = [model_path] if model_path.is_file() else sorted(model_path.glob("*.onnx"))
        if len(onnx_files) != 1 or onnx_files[0].suffix != ".onnx":
            raise ConfigError(
                f"{path}: [model] format is onnx but {model_path} is not one .onnx file (or a directory with one)",
                "point [model] path at the exported .onnx file",
            )
    return str(fmt), str(engine)


def _answers(doc: dict[str, Any], path: Path, root: Path) -> tuple[Path | None, int, int | None]:
    """[model] labels, top_k and epoch."""
    labels = None
    if (labels_rel := _get(doc, "model", "labels", str, None, path)) is not None:
        labels = _project_file(root, labels_rel, "[model] labels", path)
        if not labels.is_file():
            raise ConfigError(f"{path}: labels file {labels_rel!r} does not exist", "create it (one label per line)")
    top_k = _get(doc, "model", "top_k", int, 5, path)
    if top_k < 1:
        raise ConfigError(f"{path}: [model] top_k = {top_k}", "use 1 or more (how many classes an answer lists)")
    epoch = _get(doc, "model", "epoch", int, None, path)
    if epoch is not None and epoch < 0:
        raise ConfigError(f"{path}: [model] epoch = {epoch}", "use the NNNN of a NAME-NNNN.params file, or drop it")
    return labels, top_k, epoch


def _input_shape(doc: dict[str, Any], path: Path, fmt: str, engine: str, kind: str) -> list[int]:
    shape = _get(doc, "model", "input_shape", list, [], path)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
        raise ConfigError(
            f"{path}: [model] input_shape must be positive integers, got {shape!r}", "e.g. input_shape = [1, 8, 8]"
        )
    if math.prod(shape) * 4 > MAX_EXAMPLE_MB * 2**20:
        raise ConfigError(
            f"{path}: [model] input_shape = {shape} is {math.prod(shape) * 4 / 2**20:,.0f} MB of float32 per example, "
            f"more than the {MAX_EXAMPLE_MB} MB of the largest input LIT reads (an S3 object; a request is 6 MB)",
            "give one example's shape, without the batch dimension (e.g. input_shape = [1, 8, 8])",
        )
    if fmt == "mxnet" and engine == "onnxruntime" and kind != "image" and not shape:
        raise ConfigError(
            f"{path}: an MXNet model on ONNX Runtime is exported to ONNX while the image is built, "
            "which needs the input's shape",
            "set [model] input_shape (one example's shape, e.g. [1, 8, 8])",
        )
    return list(shape)


def _unused_tables(doc: dict[str, Any], path: Path, kind: str, task: str | None) -> None:
    """A table the input kind or the task never reads is a mistake, not a no-op."""
    if kind != "image" and doc.get("image"):
        raise ConfigError(
            f"{path}: [image] is set but [model] input is {kind!r}, which never reads it", "remove [image]"
        )
    for table in ("embed", "detect"):
        if doc.get(table) and task != table:
            raise ConfigError(
                f"{path}: [{table}] is set but [model] task is {task!r}, which never reads it",
                f'set [model] task = "{table}", or remove [{table}]',
            )


def _embed(doc: dict[str, Any], path: Path) -> Embed:
    pooling = _get(doc, "embed", "pooling", str, "mean", path)
    if pooling not in POOLING:
        raise ConfigError(f"{path}: [embed] pooling {pooling!r} is not known", f"use one of: {', '.join(POOLING)}")
    normalize = _get(doc, "embed", "normalize", bool, False, path)
    return Embed(pooling, normalize, _get(doc, "embed", "output", str, None, path))


def _detect(doc: dict[str, Any], path: Path) -> Detect:
    values = []
    for key, default in (("score_threshold", 0.25), ("iou_threshold", 0.45)):
        value = float(_get(doc, "detect", key, (int, float), default, path))
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{path}: [detect] {key} = {value} is outside 0..1", f"e.g. {key} = {default}")
        values.append(value)
    most = _get(doc, "detect", "max_detections", int, 100, path)
    if most < 1:
        raise ConfigError(f"{path}: [detect] max_detections = {most}", "use 1 or more (detections per image)")
    return Detect(values[0], values[1], most)


def _image(doc: dict[str, Any], path: Path) -> Image:
    """The [image] table: size, colour and normalisation, with a mean and std per channel (or one)."""
    color = _get(doc, "image", "color", str, "rgb", path)
    if color not in COLORS:
        raise ConfigError(f"{path}: [image] color {color!r} is not known", f"use one of: {', '.join(COLORS)}")
    size = _get(doc, "image", "size", list, [224, 224], path)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise ConfigError(f"{path}: [image] size must be [width, height], got {size!r}", "e.g. size = [224, 224]")
    scale = _get(doc, "image", "scale", (int, float), 255.0, path)
    if not 0 < scale < float("inf"):
        raise ConfigError(f"{path}: [image] scale = {scale}", "use the pixel value that maps to 1 (e.g. 255.0)")
    channels = 1 if color == "gray" else 3
    mean = _channels(doc, "mean", 0.0, channels, path)
    std = _channels(doc, "std", 1.0, channels, path)
    if 0.0 in std:
        raise ConfigError(f"{path}: [image] std has a 0 (pixels are divided by it)", "use positive values")
    max_pixels = _get(doc, "image", "max_pixels", int, 40_000_000, path)
    if max_pixels < 1:
        raise ConfigError(f"{path}: [image] max_pixels = {max_pixels}", "use a positive pixel count")
    return Image((size[0], size[1]), color, float(scale), mean, std, max_pixels)


def _channels(doc: dict[str, Any], key: str, default: float, channels: int, path: Path) -> tuple[float, ...]:
    """[image] mean or std: one number for every channel, or a list with one per channel."""
    value = _get(doc, "image", key, (int, float, list), default, path)
    values = value if isinstance(value, list) else [value]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if not numbers or len(values) not in (1, channels):
        raise ConfigError(
            f"{path}: [image] {key} must be "
            + ("one number (gray has one channel)" if channels == 1 else f"a number or {channels} (one per channel)")
            + f", got {value!r}",
            f"e.g. {key} = {[0.5] * channels if channels > 1 else 0.5}",
        )
    return tuple(float(v) for v in values)


def _function(doc: dict[str, Any], path: Path) -> Function:
    """The [function] table: size, environment, concurrency, tags and VPC, as Lambda accepts them."""
    raw_env = _get(doc, "function", "environment", dict, {}, path)
    for key, value in raw_env.items():
        if isinstance(value, (dict, list)):
            raise ConfigError(
                f"{path}: [function] environment {key!r} is a {type(value).__name__}, not a value",
                'give it a string, number or boolean (e.g. LOG_LEVEL = "info")',
            )
    environment = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw_env.items()}
    for key in environment:
        if not limits.ENV_NAME.match(key) or key in limits.RESERVED_ENV:
            raise ConfigError(
                f"{path}: [function] environment {key!r} is "
                + ("set by Lambda itself" if key in limits.RESERVED_ENV else "not a name Lambda accepts"),
                "use a name of two or more letters, digits and _ (starting with a letter) that Lambda does not reserve",
            )
    if (size := limits.env_bytes(environment)) > limits.ENV_BYTES:
        raise ConfigError(
            f"{path}: [function] environment takes {size} bytes; Lambda's limit is {limits.ENV_BYTES} for all "
            "variables together (names and values)",
            "keep large values out of the environment: in a file in the project, or in SSM Parameter Store",
        )
    reserved = _get(doc, "function", "reserved_concurrency", int, None, path)
    if reserved is not None and reserved < 0:
        raise ConfigError(
            f"{path}: [function] reserved_concurrency = {reserved}", "use 0 or more (0 stops all invokes)"
        )
    provisioned = _get(doc, "function", "provisioned_concurrency", int, 0, path)
    if provisioned < 0 or (reserved is not None and provisioned > reserved):
        raise ConfigError(
            f"{path}: [function] provisioned_concurrency = {provisioned}"
            + (f" exceeds reserved_concurrency = {reserved}" if reserved is not None and provisioned >= 0 else ""),
            "use 0 (none) up to the reserved concurrency",
        )
    snapstart = _get(doc, "function", "snapstart", bool, False, path)
    ephemeral = _range(
        _get(doc, "function", "ephemeral_storage", int, 512, path),
        *limits.EPHEMERAL_MB,
        "[function] ephemeral_storage",
        path,
    )
    if snapstart and (provisioned or ephemeral > limits.SNAPSTART_EPHEMERAL_MB):
        raise ConfigError(
            f"{path}: [function] snapstart = true with "
            + (f"provisioned_concurrency = {provisioned}" if provisioned else f"ephemeral_storage = {ephemeral}"),
            "Lambda refuses SnapStart with provisioned concurrency or over "
            f"{limits.SNAPSTART_EPHEMERAL_MB} MB of ephemeral storage: drop one of them",
        )
    tags = _get(doc, "function", "tags", dict, {}, path)
    for key, value in tags.items():
        if (
            not isinstance(value, str)
            or key.lower().startswith("aws:")
            or key.startswith("lit:")
            or not 1 <= len(key) <= limits.TAG_KEY
            or len(value) > limits.TAG_VALUE
            or not limits.TAG_CHARS.match(key)
            or not limits.TAG_CHARS.match(value)
        ):
            raise ConfigError(
                f"{path}: [function] tags {key!r} = {value!r} is not a tag Lambda accepts",
                f"keys of 1-{limits.TAG_KEY} and string values of up to {limits.TAG_VALUE} letters, digits, spaces "
                "and _ . : / = + - @; not starting with aws: (lit: is LIT's own)",
            )
    if len(tags) > limits.TAGS - limits.LIT_TAGS:
        raise ConfigError(
            f"{path}: [function] tags has {len(tags)} tags; a function holds {limits.TAGS}, and LIT adds up to "
            f"{limits.LIT_TAGS} (lit:managed, lit:tags, lit:model, lit:url)",
            f"keep {limits.TAGS - limits.LIT_TAGS} tags at most",
        )
    vpc = _get(doc, "function", "vpc", dict, {}, path)
    subnets, groups = vpc.get("subnets", []), vpc.get("security_groups", [])
    unknown = set(vpc) - {"subnets", "security_groups"}
    if (
        unknown
        or bool(subnets) != bool(groups)
        or len(subnets) > limits.SUBNETS
        or len(groups) > limits.SECURITY_GROUPS
        or not all(isinstance(s, str) and limits.SUBNET.fullmatch(s) for s in subnets)
        or not all(isinstance(g, str) and limits.SECURITY_GROUP.fullmatch(g) for g in groups)
    ):
        raise ConfigError(
            f"{path}: [function] vpc must give subnets (at most {limits.SUBNETS}) and security_groups (at most "
            f"{limits.SECURITY_GROUPS}) together, as AWS ids, got {vpc!r}",
            'e.g. vpc = { subnets = ["subnet-0123456789abcdef0"], security_groups = ["sg-0123456789abcdef0"] }',
        )
    fn = Function(
        memory=_range(_get(doc, "function", "memory", int, 1024, path), *limits.MEMORY_MB, "[function] memory", path),
        timeout=_range(_get(doc, "function", "timeout", int, 30, path), *limits.TIMEOUT_S, "[function] timeout", path),
        ephemeral_storage=ephemeral,
        architecture=_get(doc, "function", "architecture", str, "x86_64", path),
        environment=environment,
        reserved_concurrency=reserved,
        provisioned_concurrency=provisioned,
        snapstart=snapstart,
        tags=dict(tags),
        subnets=tuple(subnets),
        security_groups=tuple(groups),
    )
    if fn.architecture not in ("x86_64", "arm64"):
        raise ConfigError(f"{path}: [function] architecture {fn.architecture!r}", "use x86_64 or arm64")
    return fn


def _project_file(root: Path, rel: str, key: str, path: Path) -> Path:
    """A file lit.toml names, which must be inside the project (a symlink followed to its target)."""
    target = (root / rel).resolve()
    if not _inside(root, rel) or not target.is_relative_to(root.resolve()):
        raise ConfigError(
            f"{path}: {key} {rel!r} is outside the project ({root})",
            "copy the file into the project and name it relative to lit.toml, so that what the image holds "
            "is what the project holds",
        )
    return root / rel


def _strings(doc: dict[str, Any], table: str, key: str, path: Path) -> tuple[str, ...]:
    values = _get(doc, table, key, list, [], path)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(
            f"{path}: {_where(table, key)} must be a list of strings, got {values!r}", 'e.g. ["train.py"]'
        )
    return tuple(values)


def _inside(root: Path, rel: str) -> bool:
    """Whether root/rel stays in root, read as written (a symlink inside the project may point out)."""
    import os.path

    joined = os.path.normpath(os.path.join(root.absolute(), rel))
    return joined == str(root.absolute()) or joined.startswith(str(root.absolute()) + os.sep)


def _text(doc: dict[str, Any], path: Path, root: Path, model_path: Path | None, kind: str) -> Text | None:
    """The [text] table: the tokenizer (default: tokenizer.json in the model directory) and its limits."""
    if kind != "text":
        if doc.get("text"):
            raise ConfigError(f"{path}: [text] is set but [model] input is {kind!r}", 'set [model] input = "text"')
        return None
    max_length = _get(doc, "text", "max_length", int, 128, path)
    if not 1 <= max_length <= 65536:
        raise ConfigError(f"{path}: [text] max_length = {max_length} must be 1..65536", "e.g. max_length = 128")
    padding = _get(doc, "text", "padding", str, "longest", path)
    if padding not in PADDING:
        raise ConfigError(f"{path}: [text] padding {padding!r} is not known", f"use one of: {', '.join(PADDING)}")
    truncation = _get(doc, "text", "truncation", bool, True, path)
    rel = _get(doc, "text", "tokenizer", str, None, path)
    if model_path is None and rel is None:
        return Text(None, max_length, padding, truncation)  # comes with the model bucket's files
    if rel is not None:
        tokenizer = (root / rel).resolve()
    else:
        assert model_path is not None
        tokenizer = (model_path if model_path.is_dir() else model_path.parent) / "tokenizer.json"
    if not tokenizer.is_file():
        raise ConfigError(
            f"{path}: [model] input is text but the tokenizer {tokenizer} does not exist",
            "save the Hugging Face tokenizer there (tokenizer.save(path)), or point [text] tokenizer at it",
        )
    return Text(tokenizer, max_length, padding, truncation)
