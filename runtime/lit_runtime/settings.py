"""The function's lit.toml, as the runtime needs it (a subset of what the CLI validates)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .fetch import is_remote

TASK_ROOT = Path(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))


class ConfigError(Exception):
    """lit.toml inside the image is missing or wrong; raised at init, so the function never starts."""


@dataclass(frozen=True)
class ImageOptions:
    size: tuple[int, int] = (224, 224)  # width, height
    color: str = "rgb"  # rgb | bgr | gray
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class TextOptions:
    tokenizer: Path | None = None  # default: tokenizer.json in the model directory
    max_length: int = 128
    padding: str = "longest"  # longest | max_length (a graph with a fixed sequence length pads to it)
    truncation: bool = True


@dataclass(frozen=True)
class Settings:
    name: str
    model_dir: Path
    model_format: str = "mxnet"
    engine: str = "mxnet"  # mxnet | onnxruntime
    input_kind: str = "image"  # image | tensor | text
    epoch: int | None = None
    top_k: int = 5
    labels: tuple[str, ...] = ()
    image: ImageOptions = field(default_factory=ImageOptions)
    text: TextOptions = field(default_factory=TextOptions)
    service: Path | None = None
    model_url: str | None = None  # s3:// or https:// model bucket, fetched at cold start
    model_sha256: str | None = None
    input_shape: tuple[int, ...] = ()  # one example's shape, for warming a tensor model at init
    output_s3: str | None = None  # s3://bucket/prefix for predictions of S3-triggered runs
    max_object_bytes: int = 50 * 1024 * 1024


def _floats(value: object, what: str) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return (float(value),)
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in value)
    raise ConfigError(f"lit.toml: [image] {what} must be a number or a list of numbers, got {value!r}")


def _engine(name: str) -> str:
    """The engine lit.toml asks for; the image's own (LIT_ENGINE, set by its base) when they differ
    is a build mistake, said at init rather than as an ImportError on the first request."""
    carried = os.environ.get("LIT_ENGINE")
    if carried and carried != name:
        raise ConfigError(
            f"lit.toml asks for the {name} engine but this image's base carries {carried}; rebuild with `lit build`"
        )
    return name


def load(root: Path = TASK_ROOT) -> Settings:
    path = Path(os.environ.get("LIT_CONFIG", root / "lit.toml"))
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: the image has no lit.toml; build it with `lit build`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    model = doc.get("model", {})
    img = doc.get("image", {})
    model_dir = Path(os.environ.get("LIT_MODEL_DIR", root / "model"))
    model_ref = str(model.get("path", "model"))
    remote = model_ref if is_remote(model_ref) else None
    if remote and not model.get("sha256"):
        raise ConfigError(f"[model] path is {remote} but [model] sha256 is missing; `lit model push` prints it")
    labels: tuple[str, ...] = ()
    if labels_file := model.get("labels"):
        labels_path = root / labels_file
        if not labels_path.is_file():
            raise ConfigError(f"labels file {labels_path} is missing from the image")
        labels = tuple(line.strip() for line in labels_path.read_text().splitlines() if line.strip())
    size = img.get("size", [224, 224])
    service = root / "service.py"
    fmt = str(model.get("format", "mxnet"))
    text = doc.get("text", {})
    return Settings(
        name=str(doc.get("name", "function")),
        model_dir=model_dir,
        model_format=fmt,
        engine=_engine(str(model.get("engine", {"onnx": "onnxruntime"}.get(fmt, "mxnet")))),
        input_kind=str(model.get("input", "image")),
        epoch=model.get("epoch"),
        top_k=int(model.get("top_k", 5)),
        labels=labels,
        image=ImageOptions(
            size=(int(size[0]), int(size[1])),
            color=str(img.get("color", "rgb")),
            scale=float(img.get("scale", 255.0)),
            mean=_floats(img.get("mean", 0.0), "mean"),
            std=_floats(img.get("std", 1.0), "std"),
            max_pixels=int(img.get("max_pixels", 40_000_000)),
        ),
        text=TextOptions(
            tokenizer=root / text["tokenizer"] if "tokenizer" in text else None,
            max_length=int(text.get("max_length", 128)),
            padding=str(text.get("padding", "longest")),
            truncation=bool(text.get("truncation", True)),
        ),
        service=service if service.is_file() else None,
        output_s3=doc.get("output", {}).get("s3"),
        input_shape=tuple(int(v) for v in model.get("input_shape", ())),
        model_url=remote,
        model_sha256=model.get("sha256"),
    )
