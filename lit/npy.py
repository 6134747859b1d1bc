"""Read a .npy file's numbers without numpy (the CLI never imports it): its shape and its values,
flattened in C order. Little- and big-endian ints, unsigned ints, floats and bools."""

from __future__ import annotations

import ast
import struct
import sys
from array import array
from dataclasses import dataclass

from .errors import LitError

MAGIC = b"\x93NUMPY"
_CODES = {"f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q", "u1": "B", "u2": "H", "u4": "I", "u8": "Q"}


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    values: list[float]


def read(data: bytes, name: str) -> Tensor:
    bad = LitError(f"{name} is not a .npy file LIT can read", "save it with numpy.save (numbers, C order)")
    if not data.startswith(MAGIC) or len(data) < 10:
        raise bad
    major = data[6]
    size_bytes = 2 if major == 1 else 4
    (length,) = struct.unpack("<H" if size_bytes == 2 else "<I", data[8 : 8 + size_bytes])
    start = 8 + size_bytes
    try:
        header = ast.literal_eval(data[start : start + length].decode("latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        raise bad from None
    kind = descr[1:] if isinstance(descr, str) else ""
    if fortran or not isinstance(descr, str) or (kind not in _CODES and kind != "b1"):
        raise bad
    values = array("B" if kind == "b1" else _CODES[kind])
    try:
        values.frombytes(data[start + length :])
    except ValueError:
        raise bad from None
    if descr[0] == (">" if sys.byteorder == "little" else "<") and values.itemsize > 1:
        values.byteswap()
    count = 1
    for dim in shape:
        count *= dim
    if len(values) != count:
        raise bad
    return Tensor(shape, [float(v) for v in values])
