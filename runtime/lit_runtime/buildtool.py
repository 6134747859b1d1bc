"""How the build-time tools (`onnxrt optimize`, `onnx_import`, `mx_export`) tell `lit build` what
happened: one line on stdout, `lit-result {"tool": ..., "ok": ..., "error" or the tool's figures}`.
`lit build` reads only these lines when a build fails (lit/build.py), so a tool's success is never
read as its failure, whatever else the log holds. A readable line follows for the build's log."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
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


def main(
    tool: str,
    argv: list[str],
    usage: str,
    work: Callable[..., dict[str, Any]],
    failure: type[Exception],
    summary: Callable[[dict[str, Any]], str],
) -> int:
    """A tool's command line: `usage` is "python -m MODULE [word ...] PATH ...", its lowercase words
    given as they are and each upper-case one a path handed to work."""
    words = usage.split()[3:]
    fixed = [w for w in words if not w.isupper()]
    if len(argv) != len(words) or argv[: len(fixed)] != fixed:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    paths = [Path(a) for a in argv[len(fixed) :]]
    return run(tool, lambda: work(*paths), failure, summary)
