"""What `lit doctor` asks of a built image, answered inside it by the image's own Python.

    python -m lit_runtime.probe HANDLER RIE_PATH

Prints one JSON object: the entrypoint and the RIE are executable, awslambdaric is importable, and
the handler's module exists and defines the handler. The module is read, not imported: importing it
is the function's init, which `lit_runtime.check` runs.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from typing import Any

ENTRYPOINT = "/lambda-entrypoint.sh"


def _defined(source: bytes) -> set[str]:
    """The names a module defines at its top level: functions, classes, assignments and imports."""
    tree = ast.parse(source)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {a.asname or a.name for a in node.names}
    return names


def probe(handler: str, rie: str) -> dict[str, Any]:
    module, _, func = handler.rpartition(".")
    out: dict[str, Any] = {"entrypoint": os.access(ENTRYPOINT, os.X_OK), "rie": os.access(rie, os.X_OK)}
    out["awslambdaric"] = importlib.util.find_spec("awslambdaric") is not None
    try:
        spec = importlib.util.find_spec(module) if module else None
    except Exception as exc:  # a parent package that fails to import, a bad name
        spec, out["handler"] = None, f"{module} cannot be found: {type(exc).__name__}: {exc}"
    if spec is None or not spec.origin:
        out.setdefault("handler", f"no module {module!r} on the image's Python path")
    elif spec.origin.endswith(".py"):
        with open(spec.origin, "rb") as f:
            out["handler"] = "ok" if func in _defined(f.read()) else f"{spec.origin} defines no {func!r}"
    else:
        out["handler"] = "ok"  # a compiled module: its names cannot be read without importing it
    return out


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], sys.argv[2])))
