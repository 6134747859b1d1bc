"""Answers as arrays (`.npy`, `.npz`) instead of JSON, and Lambda's limit on an answer's size.

A caller asks for arrays with `Accept: application/x-npy` (or `application/x-npz` for several named
arrays) on HTTP triggers, or `"accept": "npy"` / `"npz"` in a direct event. A [64, 768] float32
batch of embeddings is 197 KB as .npy against about 1 MB of JSON, and costs no float formatting.
An answer over Lambda's 6 MB response limit is refused with Lambda's own error name,
Function.ResponseSizeTooLarge, and a message that names the way out; it is never cut off.
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any

from .errors import InputError

MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # a synchronous invoke's answer, and an HTTP trigger's
# Below this many numbers a JSON answer cannot reach 6 MB (a float32 is at most 26 bytes as JSON
# with its separator), so it is not serialised twice to be measured.
MEASURE_ABOVE = MAX_RESPONSE_BYTES // 26
FORMS = {"json": "application/json", "npy": "application/x-npy", "npz": "application/x-npz"}
_MEDIA = {"application/x-npy": "npy", "application/npy": "npy", "application/x-npz": "npz", "application/npz": "npz"}


class ResponseSizeTooLarge(Exception):
    """Raised from the handler so that the invoke fails as Lambda's own check fails it."""


# awslambdaric reports an exception's class name as the errorType: the name Lambda itself uses
ResponseSizeTooLarge.__name__ = ResponseSizeTooLarge.__qualname__ = "Function.ResponseSizeTooLarge"


def from_direct(value: Any) -> str:
    """A direct event's "accept": json, npy or npz (or their media types)."""
    if value is None:
        return "json"
    if isinstance(value, str) and (value in FORMS or value.lower() in _MEDIA or value.lower() == FORMS["json"]):
        return value if value in FORMS else _MEDIA.get(value.lower(), "json")
    raise InputError(f"'accept' must be one of {', '.join(FORMS)}, got {value!r}", 406)


def from_header(accept: str) -> str:
    """An HTTP Accept header: npy or npz when it names one, else JSON (the default, */* included)."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _MEDIA:
            return _MEDIA[media]
    return "json"


def encode(arrays: dict[str, Any], form: str) -> bytes:
    """The arrays as one .npy file (form npy: there must be one) or an .npz archive of .npy files."""
    import numpy as np

    buf = io.BytesIO()
    if form == "npy":
        if len(arrays) != 1:
            raise InputError(
                f"this answer is {len(arrays)} arrays ({', '.join(arrays)}) and .npy holds one; "
                "ask for application/x-npz (an archive of named .npy files)",
                406,
            )
        np.save(buf, np.ascontiguousarray(next(iter(arrays.values()))), allow_pickle=False)
    else:
        np.savez(buf, **arrays)
    return buf.getvalue()


def direct(data: bytes, form: str, arrays: dict[str, Any]) -> dict[str, Any]:
    """A direct invoke's answer: the file as base64, with each array's shape and dtype."""
    return {
        form: base64.b64encode(data).decode("ascii"),
        "arrays": {name: {"shape": list(a.shape), "dtype": str(a.dtype)} for name, a in arrays.items()},
    }


def too_large(size: int, form: str) -> str:
    way_out = (
        'ask for the answer as arrays (Accept: application/x-npy on HTTP, "accept": "npy" in a direct event), '
        "or send fewer inputs per request"
        if form == "json"
        else "send fewer inputs per request"
    )
    return (
        f"the answer is {size} bytes, over Lambda's {MAX_RESPONSE_BYTES}-byte response limit "
        f"(Function.ResponseSizeTooLarge): {way_out}"
    )


def check_direct(payload: Any, numbers: int, form: str) -> None:
    """Refuse a direct answer over the limit (measured only when it could be over it)."""
    if numbers > MEASURE_ABOVE or form != "json":
        size = len(json.dumps(payload))
        if size > MAX_RESPONSE_BYTES:
            raise ResponseSizeTooLarge(too_large(size, form))


def finite(answer: Any) -> Any:
    """The answer with every NaN and Infinity as null: JSON has neither, and a strict parser (API
    Gateway's clients among them) refuses the bare NaN that json.dumps writes."""
    if isinstance(answer, float):
        return answer if math.isfinite(answer) else None
    if isinstance(answer, list):
        return [finite(v) for v in answer]
    if isinstance(answer, dict):
        return {k: finite(v) for k, v in answer.items()}
    return answer
