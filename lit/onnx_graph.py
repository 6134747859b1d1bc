"""An ONNX model's inputs and outputs (names, element types, shapes), read off the protobuf with no
onnx package: the CLI stays light, and `lit init --from` works where only the model file is.

ModelProto.graph (7) -> GraphProto.input (11) / output (12) / initializer (5) -> ValueInfoProto
name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2) -> dim (1) ->
dim_value (1) | dim_param (2). Inputs that are initializers (older exports list weights as inputs)
are left out. Weights are skipped by length, never decoded.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from .errors import LitError

# TensorProto.DataType -> numpy's name
ELEM_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",
}


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None  # ints, symbolic names, None for an unnamed unknown

    def spec(self) -> str:
        if self.shape is None:
            return f"{self.name} {self.dtype}"
        return f"{self.name} {self.dtype} [{', '.join('?' if d is None else str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Graph:
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]


def read(path: Path) -> Graph:
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            graph = next((value for field, value in _fields(data, 0, len(data)) if field == 7), None)
            if graph is None:
                raise ValueError("no graph")
            start, end = graph
            inputs, outputs, weights = [], [], set()
            for field, (a, b) in _fields(data, start, end):
                if field == 11:
                    inputs.append(_value_info(data, a, b))
                elif field == 12:
                    outputs.append(_value_info(data, a, b))
                elif field == 5:
                    weights.add(_name(data, a, b))
    except (OSError, ValueError, IndexError) as exc:
        raise LitError(
            f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc})",
            "export it again with torch.onnx.export (or your framework's ONNX exporter)",
        ) from None
    return Graph(tuple(t for t in inputs if t.name not in weights), tuple(outputs))


def _varint(data: mmap.mmap, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: mmap.mmap, pos: int, end: int) -> list[tuple[int, tuple[int, int]]]:
    """The length-delimited fields in data[pos:end], as (field number, (start, end)); varints are
    returned as (field, (value, -1))."""
    found = []
    while pos < end:
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            found.append((field, (value, -1)))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise ValueError("a field runs past the end of the file")
            found.append((field, (pos, pos + size)))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire} is not protobuf's")
    return found


def _name(data: mmap.mmap, start: int, end: int) -> str:
    for field, (a, b) in _fields(data, start, end):
        if field == 1 and b >= 0:
            return bytes(data[a:b]).decode()
    return ""


def _value_info(data: mmap.mmap, start: int, end: int) -> Tensor:
    name, dtype, shape = "", "unknown", None
    for field, (a, b) in _fields(data, start, end):
        if field == 1:
            name = bytes(data[a:b]).decode()
        elif field == 2:
            for tfield, (c, d) in _fields(data, a, b):
                if tfield == 1:  # tensor_type
                    dtype, shape = _tensor_type(data, c, d)
    return Tensor(name, dtype, shape)


def _tensor_type(data: mmap.mmap, start: int, end: int) -> tuple[str, tuple[int | str | None, ...] | None]:
    dtype, shape = "unknown", None
    for field, (a, b) in _fields(data, start, end):
        if field == 1:
            dtype = ELEM_TYPES.get(a, f"type {a}")
        elif field == 2:
            dims: list[int | str | None] = []
            for dfield, (c, d) in _fields(data, a, b):
                if dfield == 1:
                    dims.append(_dim(data, c, d))
            shape = tuple(dims)
    return dtype, shape


def _dim(data: mmap.mmap, start: int, end: int) -> int | str | None:
    for field, (a, b) in _fields(data, start, end):
        if field == 1:
            return a
        if field == 2:
            return bytes(data[a:b]).decode()
    return None
