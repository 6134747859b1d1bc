"""ONNX models on ONNX Runtime: one session, made once at init, sized to the function's CPUs.

The model is served as exported: any opset ONNX Runtime runs, weights inline or in external data
files beside the .onnx. `lit build` runs `python -m lit_runtime.onnxrt optimize SRC DEST` in a
throwaway stage of the ONNX Runtime base, which saves the graph with the portable optimisations
(constant folding, node fusions) already applied, so a cold start does not redo them.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .engine import Port, fixed_batch, require
from .errors import InputError, ModelError

OPTIMIZED = "lit-optimized.onnx"
META = "lit-model.json"
# ONNX type strings as ONNX Runtime names them -> numpy dtype names.
DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}
SHRINK_AFTER = 8  # examples in a forward pass after which the arena is shrunk again
# One protobuf may not exceed 2 GB: a bigger optimised graph keeps its weights in a data file.
INLINE_LIMIT = 1_500_000_000


def find(model_dir: Path) -> Path:
    """The model to serve: the build's optimised graph, else the one .onnx file there."""
    if model_dir.is_file():
        return model_dir
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist")
    if (model_dir / OPTIMIZED).is_file():
        return model_dir / OPTIMIZED
    found = sorted(model_dir.glob("*.onnx"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ModelError(f"expected one .onnx file in {model_dir}, found {names}")
    return found[0]


def session_options(cpus: int, level: str = "all") -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, cpus)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }[level]
    # Spinning worker threads burn the CPU share a fractional-vCPU function needs for the next step.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only
    return opts


class OnnxModel:
    """An InferenceSession behind the engine interface (lit_runtime.engine): its inputs and outputs
    by name, dtype and shape, and a forward pass that returns every output by name."""

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        self.path = path
        unsupported = [f"{i.name} ({i.type})" for i in session.get_inputs() if i.type not in DTYPES]
        if unsupported:
            raise ModelError(f"{path.name} takes inputs LIT cannot feed: {', '.join(unsupported)}")
        self.inputs = tuple(_port(i) for i in session.get_inputs())
        self.outputs = tuple(_port(o) for o in session.get_outputs())
        self.names = [o.name for o in self.outputs]
        self.names_in = [i.name for i in self.inputs]
        import onnxruntime as ort

        # After a large batch, ONNX Runtime gives the arena memory it grew for it back (the next
        # small request would otherwise find the function's memory still held).
        self.shrink = ort.RunOptions()
        self.shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.sample: dict[str, Any] | None = None  # one example of the last large pass (see release)

    def __call__(self, *arrays: Any) -> Any:
        """The first output for inputs given in graph order (as a model object is called)."""
        return self.forward(dict(zip((p.name for p in self.inputs), arrays)))[self.names[0]]

    def forward(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Every output by name; an input the graph rejects is a 400."""
        arrays = require(self.inputs, feeds)
        for port, array in zip(self.inputs, arrays):
            _check_shape(port, array.shape)
        try:
            ndim: int = getattr(arrays[0], "ndim", 0) if arrays else 0
            large = ndim > 0 and len(arrays[0]) >= SHRINK_AFTER
            values = self.session.run(self.names, dict(zip(self.names_in, arrays)), self.shrink if large else None)
        except Exception as exc:  # onnxruntime's Fail / InvalidArgument / RuntimeException
            shapes = {name: list(a.shape) for name, a in feeds.items()}
            raise InputError(f"model rejected input of shape {shapes}: {reason(exc)}") from None
        if large:  # the smallest batch the graph takes: one example, or its fixed batch
            rows = fixed_batch(self) or 1
            self.sample = {name: a[:rows].copy() for name, a in zip(self.names_in, arrays)}
        return dict(zip(self.names, values))

    def release(self) -> None:
        """Give back the arena memory a large request grew. A pass's own outputs still sit in the
        arena when it shrinks at the pass's end, so the chunks that hold them stay until the next
        shrinking pass: run one, of the smallest batch, now rather than on a later request. It is
        housekeeping: a failure here never fails the request that was answered."""
        sample, self.sample = self.sample, None
        if sample is not None:
            try:
                self.session.run(self.names, sample, self.shrink)
            except Exception:  # noqa: BLE001 - the memory stays until the next large pass shrinks it
                pass


def _port(arg: Any) -> Port:
    """An input or output as ONNX Runtime reports it; symbolic dimensions ('batch', 's0') are None."""
    shape = None if arg.shape is None else tuple(d if isinstance(d, int) else None for d in arg.shape)
    return Port(arg.name, DTYPES.get(arg.type, arg.type), shape)


def _check_shape(port: Port, shape: tuple[int, ...]) -> None:
    want = port.shape
    if want is None:
        return
    fixed = len(want) == len(shape) and all(w is None or w == s for w, s in zip(want, shape))
    if not fixed:
        spec = "x".join("N" if w is None else str(w) for w in want)
        raise InputError(f"input {port.name!r} has shape {list(shape)}; the model takes {spec}")


def load(model_dir: Path, cpus: int, epoch: int | None = None) -> OnnxModel:
    import onnxruntime as ort

    path = find(model_dir)
    try:
        session = ort.InferenceSession(str(path), session_options(cpus), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"ONNX Runtime {ort.__version__} could not load {path.name}: {reason(exc)}") from None
    return OnnxModel(session, path)


def reason(exc: BaseException) -> str:
    """The useful part of an ONNX Runtime error: without the '[ONNXRuntimeError] : 1 : FAIL :' prefix."""
    text = " ".join(str(exc).split())
    if text.startswith("[ONNXRuntimeError]"):
        text = text.split(" : ", 3)[-1]
    return text or type(exc).__name__


def optimize(src: Path, dest: Path) -> dict[str, Any]:
    """Save src's graph with ONNX Runtime's portable (extended) optimisations applied, into dest,
    with every other file of src (tokenizer, parity data) beside it."""
    import onnxruntime as ort

    source = find(src)
    dest.mkdir(parents=True, exist_ok=True)
    opts = session_options(1, "extended")
    opts.optimized_model_filepath = str(dest / OPTIMIZED)
    data_files = {p.name for p in source.parent.iterdir() if p.name.startswith(source.name + ".")}
    data_files |= {p.name for p in source.parent.iterdir() if p.name == source.stem + ".data"}
    weights = sum((source.parent / name).stat().st_size for name in data_files | {source.name})
    if data_files or weights > INLINE_LIMIT:
        # Weights the exporter kept apart stay apart, in a data file of the optimised graph's own.
        opts.add_session_config_entry("session.optimized_model_external_initializers_file_name", OPTIMIZED + ".data")
        opts.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    t0 = time.perf_counter()
    opset = opset_of(source)
    try:
        session = ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(
            f"ONNX Runtime {ort.__version__} cannot run {source.name} (ONNX opset {opset}): {reason(exc)}"
        ) from None
    model = OnnxModel(session, source)
    # The graph and its data files are replaced by the optimised one; everything else comes along.
    skipped = {source.name} | data_files
    for item in src.iterdir() if src.is_dir() else ():
        if item.is_file() and item.name not in skipped:
            shutil.copy2(item, dest / item.name)
    meta = {
        "source": source.name,
        "onnxruntime": ort.__version__,
        "opset": opset,
        "inputs": {p.name: {"shape": _list(p.shape), "dtype": p.dtype} for p in model.inputs},
        "outputs": {p.name: {"shape": _list(p.shape), "dtype": p.dtype} for p in model.outputs},
        "optimize_ms": round((time.perf_counter() - t0) * 1000, 1),
    }
    (dest / META).write_text(json.dumps(meta, indent=1))
    return meta


def _list(shape: tuple[int | None, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def opset_of(path: Path) -> int | None:
    """The default-domain opset, read off the protobuf without the onnx package (ModelProto field 8,
    opset_import; it follows the graph, so the whole file is read: build time and errors only)."""
    data = path.read_bytes()
    pos, best = 0, None
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            field, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                size, pos = _varint(data, pos)
                if field == 8:
                    best = _opset_entry(data[pos : pos + size], best)
                pos += size
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            else:
                break
    except IndexError:
        pass
    return best


def _opset_entry(entry: bytes, best: int | None) -> int | None:
    pos, domain, version = 0, b"", None
    while pos < len(entry):
        key, pos = _varint(entry, pos)
        if key == (1 << 3 | 2):
            size, pos = _varint(entry, pos)
            domain = entry[pos : pos + size]
            pos += size
        elif key == (2 << 3 | 0):
            version, pos = _varint(entry, pos)
        else:
            break
    if domain in (b"", b"ai.onnx") and version is not None:
        return max(best or 0, version)
    return best


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def main(argv: list[str]) -> int:
    from .buildtool import main as tool

    return tool(
        "onnx",
        argv,
        "python -m lit_runtime.onnxrt optimize SRC DEST",
        optimize,
        ModelError,
        lambda m: (
            f"{m['source']} (opset {m['opset']}) optimised in {m['optimize_ms']} ms, "
            f"inputs {m['inputs']}, outputs {m['outputs']}"
        ),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
