"""Default preprocess / inference / postprocess for each input kind.

Each takes the runtime Context; any of them can be replaced by a hook in service.py.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import imagesize
from .errors import InputError


def decode_image(data: bytes, ctx: Any) -> np.ndarray:
    import cv2

    opts = ctx.settings.image
    if (size := imagesize.dimensions(data)) is not None and size[0] * size[1] > opts.max_pixels:
        raise InputError(
            f"image claims {size[0]}x{size[1]} pixels, over the limit of {opts.max_pixels} ([image] max_pixels)", 413
        )
    if data[:8] == imagesize.PNG_SIGNATURE and imagesize.png_overclaims(data):
        raise InputError("PNG is truncated or corrupt: a chunk claims more bytes than the file holds")
    flag = cv2.IMREAD_GRAYSCALE if opts.color == "gray" else cv2.IMREAD_COLOR
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, flag)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "decoder error"
        raise InputError(f"image could not be decoded: {reason}") from None
    if img is None:
        raise InputError("body is not a decodable image (JPEG, PNG, BMP, WebP or TIFF expected)", 400)
    return img


def preprocess_image(inputs: list[Any], ctx: Any) -> np.ndarray:
    import cv2

    opts = ctx.settings.image
    scale, shift = _affine(opts)
    batch = []
    for item in inputs:
        img = item if isinstance(item, np.ndarray) else decode_image(item, ctx)
        if img.shape[1::-1] != opts.size:
            img = cv2.resize(img, opts.size, interpolation=cv2.INTER_AREA)
        if opts.color == "rgb":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        arr = img.astype(np.float32) * scale + shift  # (x / scale - mean) / std in one pass
        batch.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))  # HW(C) -> CHW
    return batch[0][None] if len(batch) == 1 else np.stack(batch)


@functools.lru_cache(maxsize=8)
def _affine(opts: Any) -> tuple[Any, Any]:
    std = np.asarray(opts.std, np.float32)
    return (1.0 / (opts.scale * std)).astype(np.float32), (-np.asarray(opts.mean, np.float32) / std).astype(np.float32)


def input_names(ctx: Any) -> tuple[str, ...]:
    return tuple(getattr(ctx.model, "lit_inputs", ()) or ("data",))


def preprocess_tensor(inputs: list[Any], ctx: Any) -> Any:
    """Nested lists -> a float32 batch; dicts of named tensors -> {name: batch} for multi-input models."""
    if inputs and all(isinstance(x, dict) for x in inputs):
        names = input_names(ctx)
        batch = {}
        for name in names:
            if any(name not in x for x in inputs):
                raise InputError(f"missing input {name!r}; this model takes {', '.join(names)}")
            batch[name] = preprocess_tensor([x[name] for x in inputs], ctx)
        return batch
    try:
        arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    except (ValueError, TypeError) as exc:
        raise InputError(f"input is not a numeric tensor: {exc}") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise InputError(f"inputs of one batch must share a shape, got {sorted(shapes)}")
    return np.stack(arrays)


def inference(batch: Any, ctx: Any) -> np.ndarray:
    import mxnet as mx

    if isinstance(batch, dict):
        arrays = [_float32(batch[name]) for name in input_names(ctx)]
    else:
        arrays = [batch if isinstance(batch, np.ndarray) else _float32(batch)]
    try:
        if (forward := getattr(ctx.model, "lit_forward", None)) is not None:
            out = forward(arrays)
        else:  # a model the user's initialize() made
            out = ctx.model(*[mx.nd.array(a, dtype=a.dtype) for a in arrays])
    except mx.base.MXNetError as exc:
        from .model import mxnet_reason

        shape = {k: list(v.shape) for k, v in batch.items()} if isinstance(batch, dict) else list(batch.shape)
        raise InputError(f"model rejected input of shape {shape}: {mxnet_reason(exc)}") from None
    if isinstance(out, (list, tuple)):
        out = out[0]
    return out.asnumpy()


def _float32(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def postprocess_classes(outputs: np.ndarray, ctx: Any) -> list[Any]:
    probs = outputs if _is_distribution(outputs) else softmax(outputs)
    labels = ctx.settings.labels
    k = min(ctx.settings.top_k, probs.shape[-1])
    results = []
    for row in probs.reshape(len(probs), -1):
        top = np.argsort(-row)[:k]
        results.append(
            [
                {"label": labels[i] if i < len(labels) else str(int(i)), "index": int(i), "probability": float(row[i])}
                for i in top
            ]
        )
    return results


def postprocess_tensor(outputs: np.ndarray, ctx: Any) -> list[Any]:
    return [row.tolist() for row in outputs]


def _is_distribution(x: np.ndarray) -> bool:
    """Already probabilities (a softmax output layer)? np.allclose is slow for a per-request check."""
    return bool(x.ndim >= 1 and x.min() >= 0 and float(np.abs(x.sum(axis=-1) - 1.0).max()) < 1e-3)


def for_kind(kind: str) -> dict[str, Any]:
    if kind == "image":
        return {"preprocess": preprocess_image, "inference": inference, "postprocess": postprocess_classes}
    return {"preprocess": preprocess_tensor, "inference": inference, "postprocess": postprocess_tensor}
