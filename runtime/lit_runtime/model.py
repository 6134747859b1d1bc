"""Loading models into MXNet, once, at init."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Port, require
from .errors import InputError, ModelError

_PARAMS = re.compile(r"^(?P<prefix>.+)-(?P<epoch>\d{4})\.params$")


@dataclass(frozen=True)
class Checkpoint:
    symbol: Path
    params: Path
    input_names: tuple[str, ...]
    input_shapes: dict[str, list[int | None]]


def find_checkpoint(model_dir: Path, epoch: int | None = None) -> Checkpoint:
    """Find NAME-symbol.json and NAME-EPOCH.params (the newest epoch unless one is given)."""
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist")
    symbols = sorted(model_dir.glob("*-symbol.json"))
    if len(symbols) != 1:
        found = ", ".join(p.name for p in symbols) or "none"
        raise ModelError(f"expected one *-symbol.json in {model_dir}, found {found}")
    prefix = symbols[0].name[: -len("-symbol.json")]
    epochs = {}
    for p in model_dir.glob(f"{prefix}-*.params"):
        if (m := _PARAMS.match(p.name)) and m["prefix"] == prefix:
            epochs[int(m["epoch"])] = p
    if not epochs:
        raise ModelError(f"no {prefix}-NNNN.params beside {symbols[0].name} in {model_dir}")
    chosen = max(epochs) if epoch is None else epoch
    if chosen not in epochs:
        raise ModelError(f"epoch {epoch} not found; available: {sorted(epochs)}")
    meta_file = model_dir / "lit-inputs.json"  # written by the ONNX conversion: the graph's real inputs
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    inputs = tuple(meta.get("inputs") or _graph_inputs(symbols[0]))
    return Checkpoint(symbols[0], epochs[chosen], inputs, meta.get("shapes", {}))


def _graph_inputs(symbol_file: Path) -> tuple[str, ...]:
    """Data inputs of a symbol graph: variables ('null' ops) that are not parameters."""
    try:
        graph = json.loads(symbol_file.read_text())
        nodes = graph["nodes"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{symbol_file.name} is not an MXNet symbol file ({type(exc).__name__}: {exc}): export it again "
            "with HybridBlock.export() or mx.model.save_checkpoint()"
        ) from None
    params = {"weight", "bias", "gamma", "beta", "moving_mean", "moving_var", "running_mean", "running_var"}
    names = []
    for i in graph.get("arg_nodes", []):
        name = nodes[i]["name"]
        if not any(name.endswith(s) for s in params):
            names.append(name)
    return tuple(names) or ("data",)


def load(model_dir: Path, cpus: int = 1, epoch: int | None = None) -> MxEngine:
    """The checkpoint in model_dir behind the engine interface (lit_runtime.engine)."""
    return MxEngine(load_block(model_dir, epoch), find_checkpoint(model_dir, epoch))


class MxEngine:
    """A hybridized SymbolBlock with its inputs and outputs declared. Output names are the symbol's
    own (without MXNet's "_output" suffix); their shapes are known after the first forward pass.
    Called like the block (`engine(mx.nd.array(x))`), it is the block, for service.py hooks."""

    def __init__(self, net: Any, ckpt: Checkpoint) -> None:
        import mxnet as mx

        self.net = net
        names = mx.sym.load(str(ckpt.symbol)).list_outputs()
        shapes = ckpt.input_shapes
        self.inputs = tuple(Port(n, "float32", tuple(shapes[n]) if n in shapes else None) for n in ckpt.input_names)
        self.outputs = tuple(Port(n.removesuffix("_output"), "float32", None) for n in names)

    def __call__(self, *args: Any) -> Any:
        return self.net(*args)

    def forward(self, feeds: dict[str, Any]) -> dict[str, Any]:
        import mxnet as mx

        arrays = require(self.inputs, feeds)
        try:
            out = self.net.lit_forward(arrays)
            values = [o.asnumpy() for o in out] if isinstance(out, (list, tuple)) else [out.asnumpy()]
        except mx.base.MXNetError as exc:
            shapes = {name: list(a.shape) for name, a in feeds.items()}
            raise InputError(f"model rejected input of shape {shapes}: {mxnet_reason(exc)}") from None
        if len(values) != len(self.outputs):
            raise ModelError(f"the graph declares {len(self.outputs)} outputs but answered {len(values)}")
        return {port.name: value for port, value in zip(self.outputs, values)}


def load_block(model_dir: Path, epoch: int | None = None) -> Any:
    """A hybridized Gluon SymbolBlock for the checkpoint in model_dir."""
    import mxnet as mx

    ckpt = find_checkpoint(model_dir, epoch)
    try:
        net = mx.gluon.nn.SymbolBlock.imports(str(ckpt.symbol), list(ckpt.input_names), str(ckpt.params))
    except Exception as exc:  # MXNet raises MXNetError/AssertionError/ValueError alike
        raise ModelError(f"MXNet could not load {ckpt.symbol.name} + {ckpt.params.name}: {mxnet_reason(exc)}") from exc
    net.hybridize(static_alloc=True, static_shape=True)
    net.lit_inputs = ckpt.input_names  # the order inference passes named inputs in
    net.lit_shapes = ckpt.input_shapes
    net.lit_forward = Forward(net)
    return net


class Forward:
    """The block's compiled graph (the CachedOp that hybridize makes) called directly, as Gluon
    calls it but without Gluon's per-call Python work (argument flattening, a parameter lookup each,
    a new input NDArray each time): half the time of `net(mx.nd.array(x))` for a small model.
    Parameters are taken once (loading parameters later copies into the same arrays); a block
    hybridized again gets a new CachedOp, which is noticed and taken up on the next call."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.op: Any = None
        self.args: list[Any] = []
        self.slots: list[tuple[int, int]] = []  # (position in args, index of the input)
        self.inputs: dict[tuple[Any, ...], Any] = {}  # (index, shape, dtype) -> a reused input NDArray

    def __call__(self, arrays: list[Any]) -> Any:
        import mxnet as mx

        op = getattr(self.net, "_cached_op", None)
        if op is None or op is not self.op:
            out = self.net(*[mx.nd.array(a, dtype=a.dtype) for a in arrays])  # Gluon builds the CachedOp
            self._bind(getattr(self.net, "_cached_op", None))
            return out
        args = list(self.args)
        for pos, index in self.slots:
            a = arrays[index]
            key = (index, a.shape, a.dtype)
            if (x := self.inputs.get(key)) is None:
                x = self.inputs[key] = mx.nd.empty(a.shape, dtype=a.dtype)
            x._sync_copyfrom(a)
            args[pos] = x
        return op(*args)

    def _bind(self, op: Any) -> None:
        self.op = op
        spec = getattr(self.net, "_cached_op_args", None) or []
        self.args = [None if is_arg else p.data() for is_arg, p in spec]
        self.slots = [(pos, index) for pos, (is_arg, index) in enumerate(spec) if is_arg]
        self.inputs.clear()


def mxnet_reason(exc: BaseException) -> str:
    """The one line of an MXNetError that says what is wrong (its text carries a C++ trace)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(("File ", "Traceback", "[bt]", "Stack trace")):
            return line.removeprefix("MXNetError: ")
    return type(exc).__name__
