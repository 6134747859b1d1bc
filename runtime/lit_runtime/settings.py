"""The function's configuration, as `lit build` wrote it into the image (/var/task/lit.json).

lit.toml is validated once, by the CLI (lit/project.py), which writes every value explicitly and
every path as the image lays it out (lit/runtime_config.py). This module reads that file and holds
no defaults of its own, so the two sides cannot drift.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TASK_ROOT = Path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
FILE = "lit.json"
SCHEMA = 3  # the version lit/runtime_config.py writes
MAX_OBJECT_BYTES = 50 * 1024 * 1024  # an S3 object read for one prediction


class ConfigError(Exception):
    """The image's configuration (or a file it names) is missing or wrong: raised at init, so the function
    never starts."""


@dataclass(frozen=True)
class ImageOptions:
    size: tuple[int, int]  # width, height
    color: str  # rgb | bgr | gray
    scale: float
    mean: tuple[float, ...]  # one value, or one per channel
    std: tuple[float, ...]
    max_pixels: int


@dataclass(frozen=True)
class TextOptions:
    tokenizer: Path | None  # None: tokenizer.json in the model directory (a model bucket's)
    max_length: int
    padding: str  # longest | max_length (a graph with a fixed sequence length pads to it)
    truncation: bool


@dataclass(frozen=True)
class EmbedOptions:
    pooling: str  # mean | cls | max, over the attention mask, for a [batch, tokens, dim] output
    normalize: bool  # unit-length vectors
    output: str | None  # None: the output is chosen by shape and name


@dataclass(frozen=True)
class DetectOptions:
    score_threshold: float
    iou_threshold: float  # non-maximum suppression, for YOLO-style raw outputs
    max_detections: int  # per image


@dataclass(frozen=True)
class AdapterOptions:
    """A handler from another model server (lit_runtime.adapters)."""

    kind: str  # mms | torchserve | sagemaker
    handler: str  # as the archive names it: module, module:function or module:Class
    code: Path  # the directory the handler imports from
    writable_model: bool  # give the handler a writable copy of the model directory (in /tmp)


@dataclass(frozen=True)
class Settings:
    name: str
    model_dir: Path
    engine: str  # mxnet | onnxruntime
    input_kind: str  # image | tensor | text | body (an adapter's: the request's bytes as sent)
    task: str | None  # classify | embed | detect | raw; None: chosen from the graph at init
    epoch: int | None  # None: the newest NAME-NNNN.params
    top_k: int
    labels: tuple[str, ...]
    image: ImageOptions
    text: TextOptions | None  # None unless input_kind is text
    service: Path | None
    model_url: str | None  # s3:// or https:// model bucket, fetched at cold start
    model_sha256: str | None
    input_shape: tuple[int, ...]  # one example's shape, for warming a tensor model at init
    output_s3: str | None  # s3://bucket/prefix for predictions of S3-triggered runs
    embed: EmbedOptions = EmbedOptions("mean", False, None)
    detect: DetectOptions = DetectOptions(0.25, 0.45, 100)
    max_object_bytes: int = MAX_OBJECT_BYTES
    adapter: AdapterOptions | None = None  # None: LIT's own hooks (and service.py)


def _engine(name: str) -> str:
    """The engine lit.toml asks for; the image's own (LIT_ENGINE, set by its base) when they differ
    is a build mistake, said at init rather than as an ImportError on the first request."""
    carried = os.environ.get("LIT_ENGINE")
    if carried and carried != name:
        raise ConfigError(
            f"lit.toml asks for the {name} engine but this image's base carries {carried}; rebuild with `lit build`"
        )
    return name


def load(root: Path = TASK_ROOT, path: Path | None = None) -> Settings:
    """The configuration at `path` (default: LIT_CONFIG, else lit.json in the task root)."""
    path = Path(path or os.environ.get("LIT_CONFIG") or root / FILE)
    rebuild = "rebuild the image with `lit build` (lit and the image's base must be the same release)"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: this image was not built by `lit build`, or by a lit older than its runtime; " + rebuild
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON ({exc}); {rebuild}") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != SCHEMA:
        raise ConfigError(f"{path} has schema {schema!r}, this runtime reads schema {SCHEMA}; {rebuild}")
    try:
        return _settings(doc, root)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"{path} is not a configuration `lit build` wrote ({type(exc).__name__}: {exc}); {rebuild}"
        ) from None


def _settings(doc: dict[str, Any], root: Path) -> Settings:
    model, image, text, embed, detect = doc["model"], doc["image"], doc["text"], doc["embed"], doc["detect"]
    model_dir = Path(os.environ.get("LIT_MODEL_DIR", root / "model"))
    service = root / "service.py"
    return Settings(
        name=str(doc["name"]),
        model_dir=model_dir,
        engine=_engine(str(model["engine"])),
        input_kind=str(model["input"]),
        task=None if model["task"] is None else str(model["task"]),
        epoch=None if model["epoch"] is None else int(model["epoch"]),
        top_k=int(model["top_k"]),
        labels=tuple(str(label) for label in model["labels"]),
        image=ImageOptions(
            size=(int(image["size"][0]), int(image["size"][1])),
            color=str(image["color"]),
            scale=float(image["scale"]),
            mean=tuple(float(v) for v in image["mean"]),
            std=tuple(float(v) for v in image["std"]),
            max_pixels=int(image["max_pixels"]),
        ),
        text=None if text is None else _text(text, root, model_dir),
        service=service if service.is_file() else None,
        model_url=model["url"],
        model_sha256=model["sha256"],
        input_shape=tuple(int(v) for v in model["input_shape"]),
        output_s3=doc["output"]["s3"],
        embed=EmbedOptions(
            pooling=str(embed["pooling"]),
            normalize=bool(embed["normalize"]),
            output=None if embed["output"] is None else str(embed["output"]),
        ),
        detect=DetectOptions(
            score_threshold=float(detect["score_threshold"]),
            iou_threshold=float(detect["iou_threshold"]),
            max_detections=int(detect["max_detections"]),
        ),
        adapter=None if doc["adapter"] is None else _adapter(doc["adapter"], root, model_dir),
    )


def _adapter(adapter: dict[str, Any], root: Path, model_dir: Path) -> AdapterOptions:
    where = adapter["code"]
    return AdapterOptions(
        kind=str(adapter["kind"]),
        handler=str(adapter["handler"]),
        code={"model": model_dir, "task": root}[where["in"]] / where["path"],
        writable_model=bool(adapter["writable_model"]),
    )


def _text(text: dict[str, Any], root: Path, model_dir: Path) -> TextOptions:
    where = text["tokenizer"]
    tokenizer = None if where is None else {"model": model_dir, "task": root}[where["in"]] / where["path"]
    return TextOptions(
        tokenizer=tokenizer,
        max_length=int(text["max_length"]),
        padding=str(text["padding"]),
        truncation=bool(text["truncation"]),
    )
