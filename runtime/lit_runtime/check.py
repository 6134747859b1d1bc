"""`python -m lit_runtime.check`: run the function's init (config, hooks, model, warm-up) and exit.

`lit build` runs this inside the new image, so a model that fails to load fails the build
instead of the first request.
"""

from __future__ import annotations

import sys
from typing import Any

from .app import App
from .errors import ModelError, ServiceError
from .settings import ConfigError

PARITY = "lit-parity.npz"  # written by lit_runtime.mx_export: a batch and MXNet's outputs for it


def parity(app: App) -> float | None:
    """The largest difference between this engine's outputs and the ones saved at export; a
    difference over 1e-4 (relative to the outputs' scale) is a ModelError."""
    path = app.ctx.settings.model_dir / PARITY
    if app.ctx.model is None or not path.is_file():
        return None
    import numpy as np

    from . import defaults

    saved = np.load(path)
    batch = {k.removeprefix("input:"): saved[k] for k in saved.files if k.startswith("input:")}
    expected = saved["output"]
    named = defaults.inference(batch if len(batch) > 1 else next(iter(batch.values())), app.ctx)
    got: Any = next(iter(named.values()))
    if got.shape != expected.shape:
        raise ModelError(f"the exported model answers shape {list(got.shape)}, MXNet {list(expected.shape)}")
    diff = float(np.abs(got - expected).max())
    tolerance = 1e-4 * max(1.0, float(np.abs(expected).max()))
    if not diff <= tolerance:
        raise ModelError(
            f"the exported model's outputs differ from MXNet's by up to {diff:.2e} (tolerance {tolerance:.1e})"
        )
    return diff


def decisions(app: App) -> list[str]:
    """What LIT decided from the graph, for `lit build` to print: the task and why, and a fixed batch."""
    from . import engine

    choice = app.ctx.task
    said = [
        f"task {choice.task.name}: {choice.reason}"
        if choice is not None
        else "task: chosen on the first request (the graph does not declare its outputs' shapes)"
    ]
    if engine.is_engine(app.ctx.model) and (size := engine.fixed_batch(app.ctx.model)) is not None:
        said.append(
            f"the graph takes a fixed batch of {size}: requests and batch triggers are fed {size} "
            "example(s) at a time (export with a dynamic batch dimension to run them in one pass)"
        )
    return said


def main() -> int:
    try:
        app = App.start()
        for line in decisions(app):
            print(f"lit-check: {line}", file=sys.stderr)
        diff = parity(app)
        if diff is not None:
            print(f"lit-check: ONNX Runtime matches MXNet to {diff:.2e}", file=sys.stderr)
    except (ConfigError, ModelError, ServiceError) as exc:
        print("lit-check: " + " ".join(str(exc).split()), file=sys.stderr)
        return 3
    except Exception as exc:  # the user's initialize() or warm-up failed
        print("lit-check: init failed: " + " ".join(f"{type(exc).__name__}: {exc}".split()), file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
