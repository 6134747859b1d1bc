"""Default preprocess / inference / postprocess for each input kind.

Each takes the runtime Context; any of them can be replaced by a hook in service.py.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import engine, imagesize
from .engine import Port
from .errors import InputError

# Examples per forward pass: a larger request runs in passes of this many, so that its activations
# (a transformer's attention over every token, a CNN's feature maps) fit the function's memory.
CHUNK = {"image": 16, "text": 32, "tensor": 256, "body": 16}  # body: an adapter's, released after as many
# Examples per request (all records of a batch trigger together); more is a 413 naming this cap.
MAX_EXAMPLES = 4096


def decode_image(data: bytes, ctx: Any) -> np.ndarray[Any, Any]:
    """The pixels as OpenCV's imdecode gives them (BGR or grey uint8), by OpenCV where the image
    carries it, else by Pillow (lit_runtime.pixels)."""
    from . import pixels

    opts = ctx.settings.image
    if (size := imagesize.dimensions(data)) is not None and size[0] * size[1] > opts.max_pixels:
        raise InputError(
            f"image claims {size[0]}x{size[1]} pixels, over the limit of {opts.max_pixels} ([image] max_pixels)", 413
        )
    if data[:8] == imagesize.PNG_SIGNATURE and imagesize.png_overclaims(data):
        raise InputError("PNG is truncated or corrupt: a chunk claims more bytes than the file holds")
    try:
        img = pixels.decode(data, opts.color == "gray", opts.max_pixels)
    except pixels.TooLarge as exc:
        raise InputError(
            f"image is over the limit of {opts.max_pixels} pixels ([image] max_pixels): {exc}", 413
        ) from None
    except pixels.DecodeError as exc:
        raise InputError(f"image could not be decoded: {exc}") from None
    if img is None:
        raise InputError("body is not a decodable image (JPEG, PNG, BMP, WebP or TIFF expected)", 400)
    return img


def preprocess_image(inputs: list[Any], ctx: Any) -> np.ndarray[Any, Any]:
    from . import pixels

    opts = ctx.settings.image
    scale, shift = _affine(opts)
    batch, sizes = [], []
    for item in inputs:
        img = item if isinstance(item, np.ndarray) else decode_image(item, ctx)
        sizes.append(img.shape[1::-1])  # (width, height): detections are scaled back to it
        if img.shape[1::-1] != opts.size:
            img = pixels.resize_area(img, opts.size)
        if opts.color == "rgb":
            img = pixels.bgr_to_rgb(img)
        arr = img.astype(np.float32) * scale + shift  # (x / scale - mean) / std in one pass
        batch.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))  # HW(C) -> CHW
    ctx.sizes = sizes
    return batch[0][None] if len(batch) == 1 else np.stack(batch)


@functools.lru_cache(maxsize=8)
def _affine(opts: Any) -> tuple[Any, Any]:
    std = np.asarray(opts.std, np.float32)
    return (1.0 / (opts.scale * std)).astype(np.float32), (-np.asarray(opts.mean, np.float32) / std).astype(np.float32)


def input_ports(ctx: Any) -> tuple[Port, ...]:
    """The model's inputs as its engine declares them; one float32 input "data" for a model object
    a service.py initialize() made without declaring any."""
    declared = getattr(ctx.model, "inputs", None)
    if isinstance(declared, tuple) and declared and all(isinstance(p, Port) for p in declared):
        return declared
    return (Port("data", "float32", None),)


def input_names(ctx: Any) -> tuple[str, ...]:
    return tuple(p.name for p in input_ports(ctx))


def input_dtypes(ctx: Any) -> dict[str, str]:
    return {p.name: p.dtype for p in input_ports(ctx)}


def output_ports(ctx: Any) -> tuple[Port, ...]:
    declared = getattr(ctx.model, "outputs", None)
    if isinstance(declared, tuple) and all(isinstance(p, Port) for p in declared):
        return declared
    return ()


def preprocess_tensor(inputs: list[Any], ctx: Any, name: str | None = None) -> Any:
    """Examples (nested lists or arrays) -> a batch in the input's dtype; dicts of named tensors ->
    {name: batch} for multi-input models."""
    names = input_names(ctx)
    if inputs and all(isinstance(x, dict) for x in inputs):
        batch = {}
        for key in names:
            if any(key not in x for x in inputs):
                raise InputError(f"missing input {key!r}; this model takes {', '.join(names)}")
            batch[key] = preprocess_tensor([x[key] for x in inputs], ctx, key)
        return batch
    dtype = np.dtype(input_dtypes(ctx).get(name or names[0], "float32"))
    try:
        arrays = [_as_dtype(x, dtype) for x in inputs]
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"input is not a numeric tensor: {exc}") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise InputError(f"inputs of one batch must share a shape, got {sorted(shapes)}")
    batch = np.stack(arrays)
    if batch.dtype.kind == "f" and not np.isfinite(batch).all():
        where = int(np.argwhere(~np.isfinite(batch.reshape(len(batch), -1)))[0][0])
        raise InputError(
            f"input {name or names[0]!r} of example {where} holds NaN or Infinity; send finite numbers "
            "(JSON has no NaN, and a model's answer to one is not a number either)"
        )
    return batch


def _as_dtype(x: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """One example in the model's dtype; a fraction sent to an integer input is an error, not a cut."""
    if dtype.kind in "iub":
        raw = x if isinstance(x, np.ndarray) else np.asarray(x)
        if raw.dtype.kind == "f" and not np.array_equal(raw, np.trunc(raw)):
            raise InputError(f"this input takes {dtype} values; got fractions")
        if raw.dtype.kind not in "iubf":
            raise TypeError(f"values of type {raw.dtype} are not numbers")
        return raw.astype(dtype, copy=False)
    return np.asarray(x, dtype=dtype)


def inference(batch: Any, ctx: Any) -> dict[str, np.ndarray[Any, Any]]:
    """Every output of the model, by name, for a batch (an array, or {input name: array})."""
    names = input_names(ctx)
    dtypes = input_dtypes(ctx)
    if isinstance(batch, dict):
        feeds = {name: _cast(batch[name], dtypes[name]) for name in names if name in batch}
    else:
        feeds = {names[0]: _cast(batch, dtypes[names[0]])}
    if engine.is_engine(ctx.model):
        return engine.run(ctx.model, feeds, CHUNK[ctx.settings.input_kind])
    # a model object the user's initialize() made: called with the inputs in order
    from .tasks import named

    if ctx.settings.engine == "mxnet":
        import mxnet as mx

        out = ctx.model(*[mx.nd.array(a, dtype=a.dtype) for a in feeds.values()])
    else:
        out = ctx.model(*feeds.values())
    return named(out, output_ports(ctx))


def _cast(x: Any, dtype: str) -> np.ndarray[Any, Any]:
    if isinstance(x, np.ndarray) and x.dtype == dtype and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(x, dtype=dtype)


def postprocess(outputs: Any, ctx: Any) -> list[Any]:
    """One answer per example, as the function's task gives it (lit_runtime.tasks)."""
    from . import tasks

    named = tasks.named(outputs, output_ports(ctx))
    return tasks.current(ctx, named).answers(named, ctx)


def preprocess_text(inputs: list[Any], ctx: Any) -> Any:
    from . import text

    return text.preprocess(inputs, ctx)


def for_kind(kind: str) -> dict[str, Any]:
    pre = {"image": preprocess_image, "text": preprocess_text}.get(kind, preprocess_tensor)
    return {"preprocess": pre, "inference": inference, "postprocess": postprocess}
