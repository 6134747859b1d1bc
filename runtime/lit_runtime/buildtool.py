"""How the build-time tools (`onnxrt optimize`, `onnx_import`, `mx_export`) tell `lit build` what
happened: one line on stdout, `lit-result {"tool": ..., "ok": ..., "error" or the tool's figures}`.
`lit build` reads only these lines when a build fails (lit/build.py), so a tool's success is never
read as its failure, whatever else the log holds. A readable line follows for the build's log."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

MARK = "lit-result "


def report(tool: str, error: str | None = None, summary: str = "", **figures: Any) -> int:
    """Print the result line (and the readable one); the tool's exit status."""
    doc = {"tool": tool, "ok": error is None, **({"error": error} if error is not None else figures)}
    print(MARK + json.dumps(doc, default=str), flush=True)
    if error is not None:
        print(f"{tool} failed: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"{tool}: {summary}", flush=True)
    return 0


def run(
    tool: str, work: Callable[[], dict[str, Any]], failure: type[Exception], summary: Callable[[dict[str, Any]], str]
) -> int:
    """Run a tool's work and report it: its figures, or the failure it names (others are bugs, and raise)."""
    try:
        figures = work()
    except failure as exc:
        return report(tool, str(exc))
    return report(tool, summary=summary(figures), **figures)
