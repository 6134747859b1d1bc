"""The one interface every engine implements, and the one place engines are registered.

An engine is loaded once at init from the model directory. It declares its inputs and outputs
(name, dtype, shape; None where a dimension is symbolic or unknown) and answers a forward pass with
every output by name. Tasks (lit_runtime.tasks) read only this interface, so they never depend on
which engine runs the graph; a third engine is one module with a `load` plus its line in ENGINES.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import InputError, ModelError

# engine name (lit.toml's [model] engine) -> the module whose load(model_dir, cpus, epoch) makes it
ENGINES = {"onnxruntime": "lit_runtime.onnxrt", "mxnet": "lit_runtime.model"}


@dataclass(frozen=True)
class Port:
    """One graph input or output."""

    name: str
    dtype: str  # a numpy dtype name
    shape: tuple[int | None, ...] | None  # None: the rank is unknown until a forward pass

    def spec(self) -> str:
        if self.shape is None:
            return f"{self.name} ({self.dtype}, shape unknown)"
        dims = ", ".join("N" if d is None else str(d) for d in self.shape)
        return f"{self.name} {self.dtype} [{dims}]"


@runtime_checkable
class Engine(Protocol):
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    def forward(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Every output, by name, for one batch of named inputs; an input the graph rejects is an InputError."""
        ...


def is_engine(model: Any) -> bool:
    """Whether a model object implements the interface (a model a service.py initialize() made may
    not). The same test as isinstance(model, Engine), without the Protocol's slower machinery, since
    it runs on every request."""
    return callable(getattr(model, "forward", None)) and isinstance(getattr(model, "outputs", None), tuple)


def load(name: str, model_dir: Any, cpus: int, epoch: int | None = None) -> Engine:
    if name not in ENGINES:
        raise ModelError(f"engine {name!r} is not known; LIT has {', '.join(ENGINES)}")
    module = importlib.import_module(ENGINES[name])
    engine: Engine = module.load(model_dir, cpus, epoch)
    return engine


def require(inputs: tuple[Port, ...], feeds: dict[str, Any]) -> list[Any]:
    """The feeds in the graph's input order; a missing input is a 400 naming what the model takes."""
    missing = [p.name for p in inputs if p.name not in feeds]
    if missing:
        raise InputError(f"missing input {missing[0]!r}; this model takes {', '.join(p.name for p in inputs)}")
    return [feeds[p.name] for p in inputs]


def fixed_batch(engine: Engine) -> int | None:
    """The batch size the graph was exported with, when its batch dimension is not dynamic."""
    sizes = {p.shape[0] for p in engine.inputs if p.shape and isinstance(p.shape[0], int)}
    return sizes.pop() if len(sizes) == 1 else None


def run(engine: Engine, feeds: dict[str, Any], chunk: int | None = None) -> dict[str, Any]:
    """A forward pass for a batch of any size, in passes of at most `chunk` examples (so a large
    request's activations fit the function's memory). A graph with a fixed batch size N is fed in
    chunks of N, the last one padded (with copies of its last example), and the padding dropped."""
    import numpy as np

    size = fixed_batch(engine)
    count = len(next(iter(feeds.values())))
    if size is None and chunk is not None and count > chunk:
        parts = [run(engine, {k: v[i : i + chunk] for k, v in feeds.items()}) for i in range(0, count, chunk)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if size is None or count == size:
        return engine.forward(feeds)
    if count == 0:
        raise InputError("the batch is empty")
    pieces: list[dict[str, Any]] = []
    for start in range(0, count, size):
        part = {k: v[start : start + size] for k, v in feeds.items()}
        real = len(next(iter(part.values())))
        if real < size:
            part = {k: np.concatenate([v, np.repeat(v[-1:], size - real, axis=0)]) for k, v in part.items()}
        out = engine.forward(part)
        for name, array in out.items():
            if np.ndim(array) == 0 or len(array) != size:
                raise ModelError(
                    f"the graph takes a fixed batch of {size} but its output {name!r} has shape "
                    f"{list(np.shape(array))}, not a batch of {size}: LIT cannot split it per example; "
                    "export the model with a dynamic batch dimension"
                )
        pieces.append({k: v[:real] for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
