"""A faster `import mxnet`: its operator functions, compiled once at image build, not per start.

`import mxnet` spends most of its time generating Python source for ~5,000 operator functions
(ndarray, symbol, numpy and numpy-extension namespaces) and compiling it with exec(). The source
only varies by each operator's handle, a pointer that changes from process to process. At image
build (`python -m lit_runtime.fastmx --write`) each generated function is rewritten as a factory
taking the handle, compiled, and stored with its docstring; at start, install() hooks
mxnet.base so that the registration loops take the compiled factories instead of compiling.

Anything unexpected (no cache, another libmxnet, an operator whose code has a different shape)
falls back to MXNet's own path for that operator: the cache can only make import faster.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import marshal
import os
import pickle
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path(sys.prefix) / "mxnet-ops.cache"
_GENERATORS = {
    "mxnet.ndarray.register": "_generate_ndarray_function_code",
    "mxnet.symbol.register": "_generate_symbol_function_code",
}
_MODULE_ATTR = {"mxnet.ndarray.register": "mxnet.ndarray", "mxnet.symbol.register": "mxnet.symbol"}
# Modules `import mxnet` loads that serving never touches (test helpers; text embeddings, which
# pull in requests; the ONNX importer, used at build time). LazyLoader runs them on first
# attribute access, so code that does use them still works.
LAZY = ("mxnet.test_utils", "mxnet.contrib.text", "mxnet.contrib.onnx", "requests")


def _library_stamp() -> str | None:
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(list(spec.submodule_search_locations)[0])
    try:
        size = (package / "libmxnet.so").stat().st_size
        version = (package / "libinfo.py").read_text().split("__version__ = ", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return f"{version}:{size}"


def factory_code(code: str, func_name: str, handle: int, name: str) -> Any:
    """The generated function as `_lit_factory(_lit_h)` (the handle literal made a parameter),
    compiled without its docstring (set from the cache instead: smaller, faster to unmarshal)."""
    import ast  # build time only: keep it off the start-up path

    needle = f"({handle}, "
    if code.count(needle) != 1 or not code.lstrip().startswith("def "):
        return None
    body = code.replace(needle, "(_lit_h, ")
    source = "def _lit_factory(_lit_h):\n" + textwrap.indent(body, "    ") + f"\n    return {func_name}\n"
    tree = ast.parse(source)
    inner = tree.body[0].body[0]  # type: ignore[attr-defined]
    if not isinstance(inner, ast.FunctionDef) or inner.name != func_name:
        return None
    first = inner.body[0] if inner.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        inner.body = inner.body[1:] or [ast.Pass()]
    return compile(ast.fix_missing_locations(tree), f"<mxnet op {name}>", "exec")


class _State:
    def __init__(self, entries: dict[str, tuple[bytes, str]], recording: bool) -> None:
        self.entries = entries
        self.recording = recording
        self.hits = 0
        self.misses = 0


def _cached(make: Callable[..., Any], state: _State) -> Callable[..., Any]:
    origin = getattr(make, "__module__", "")
    if origin not in _GENERATORS:
        return make

    def make_op(handle: Any, name: str, func_name: str) -> Any:
        key = f"{origin}:{name}:{func_name}"
        entry = state.entries.get(key)
        if entry is not None and not state.recording:
            code, doc = entry
            scope: dict[str, Any] = {}
            exec(marshal.loads(code), make.__globals__, scope)  # noqa: S102 - our own compiled cache
            function = scope["_lit_factory"](handle.value)
            function.__name__ = func_name
            function.__doc__ = doc
            function.__module__ = _MODULE_ATTR[origin]
            state.hits += 1
            return function
        state.misses += 1
        function = make(handle, name, func_name)
        if state.recording:
            generate = make.__globals__[_GENERATORS[origin]]
            code_text, doc = generate(handle, name, func_name)
            compiled = factory_code(code_text, func_name, handle.value, name)
            if compiled is not None:
                state.entries[key] = (marshal.dumps(compiled), doc)
        return function

    return make_op


class _BaseHook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs mxnet.base as usual, then wraps its two registration loops; defers the LAZY modules."""

    def __init__(self, state: _State, lazy: tuple[str, ...] = LAZY) -> None:
        self.state = state
        self.lazy = lazy
        self.loader: Any = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.lazy and fullname != "mxnet.base":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        if fullname in self.lazy:
            spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        self.loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: Any) -> Any:
        return None

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        state = self.state
        init_op, init_np = module._init_op_module, module._init_np_op_module

        def init_op_module(root_namespace: str, module_name: str, make_op_func: Callable[..., Any]) -> Any:
            return init_op(root_namespace, module_name, _cached(make_op_func, state))

        def init_np_op_module(*args: Any, **kwargs: Any) -> Any:
            if "make_op_func" in kwargs:
                kwargs["make_op_func"] = _cached(kwargs["make_op_func"], state)
            elif len(args) >= 4:
                args = (*args[:3], _cached(args[3], state), *args[4:])
            return init_np(*args, **kwargs)

        module._init_op_module = init_op_module
        module._init_np_op_module = init_np_op_module


def install(cache: Path | None = None) -> _State | None:
    """Hook the next `import mxnet` to use the compiled cache; None when there is no valid cache."""
    if "mxnet" in sys.modules or os.environ.get("LIT_MXNET_OP_CACHE") == "off":
        return None
    path = cache or Path(os.environ.get("LIT_MXNET_OP_CACHE", DEFAULT_CACHE))
    try:
        with path.open("rb") as f:
            doc = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
    if doc.get("python") != sys.version_info[:2] or doc.get("library") != _library_stamp():
        return None
    state = _State(doc["entries"], recording=False)
    sys.meta_path.insert(0, _BaseHook(state))
    return state


def write(path: Path) -> int:
    """Import mxnet while recording every operator factory; write the cache; return its size."""
    if "mxnet" in sys.modules:
        raise RuntimeError("write() needs a process that has not imported mxnet yet")
    state = _State({}, recording=True)
    sys.meta_path.insert(0, _BaseHook(state, lazy=()))
    import mxnet  # noqa: F401

    doc = {"python": sys.version_info[:2], "library": _library_stamp(), "entries": state.entries}
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(doc, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return len(state.entries)


if __name__ == "__main__":
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_CACHE
    if sys.argv[1:2] != ["--write"]:
        print("usage: python -m lit_runtime.fastmx --write [PATH]", file=sys.stderr)
        sys.exit(2)
    print(f"fastmx: {write(target)} operator functions compiled into {target}")
