"""The user's optional service.py: initialize / preprocess / inference / postprocess hooks, and
SnapStart's before_snapshot / after_restore (see snapstart.py).

Loaded once, at init, from a file path (like MXNet Model Server custom services). Each of the four
that is missing falls back to the default for the model's input kind; the SnapStart ones are optional.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import defaults
from .errors import ServiceError

HOOKS = ("initialize", "preprocess", "inference", "postprocess", "before_snapshot", "after_restore")
_ARITY = {"initialize": 1, "preprocess": 2, "inference": 2, "postprocess": 2, "before_snapshot": 1, "after_restore": 1}


def load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("service", path)
    if spec is None or spec.loader is None:
        raise ServiceError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ServiceError(f"importing {path.name} failed: {type(exc).__name__}: {exc}") from exc
    return module


def resolve(path: Path | None, kind: str) -> dict[str, Callable[..., Any]]:
    """The four hooks: the user's where service.py defines them, else the defaults."""
    hooks: dict[str, Callable[..., Any]] = {"initialize": lambda ctx: None, **defaults.for_kind(kind)}
    if path is None:
        return hooks
    module = load_module(path)
    defined = [name for name in HOOKS if callable(getattr(module, name, None))]
    if not defined and any(callable(getattr(module, n, None)) for n in ("handle", "predict")):
        raise ServiceError(
            f"{path.name} defines no hook LIT calls; expected one of {', '.join(HOOKS)} "
            "(rename handle/predict to inference)"
        )
    for name in defined:
        fn = getattr(module, name)
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(params) != _ARITY[name]:
            want = "(context)" if _ARITY[name] == 1 else "(data, context)"
            raise ServiceError(f"{path.name}: {name} takes {len(params)} argument(s); expected {name}{want}")
        hooks[name] = fn
    return hooks
