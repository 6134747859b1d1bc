"""Build-time MXNet checkpoint -> ONNX export, for an MXNet model served on ONNX Runtime.

`python -m lit_runtime.mx_export SRC DEST --shape 1,3,224,224` runs in a throwaway stage of the
MXNet base (with onnx installed there), so the function image carries neither MXNet nor onnx.
`mx.onnx.export_model` lists every weight as a graph input too; ONNX Runtime then treats them as
overridable inputs, cannot fold constants and warns once per weight, so they are taken out of
graph.input. A seeded random batch and MXNet's outputs for it are saved as lit-parity.npz:
`lit build`'s check runs them through ONNX Runtime in the final image before it takes its tag.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from .model import find_checkpoint, load_block, mxnet_reason

PARITY = "lit-parity.npz"


class ExportError(Exception):
    pass


def strip_weight_inputs(model: Any) -> int:
    """Remove initializers from graph.input; return how many were listed."""
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    keep = [i for i in graph.input if i.name not in weights]
    removed = len(graph.input) - len(keep)
    del graph.input[:]
    graph.input.extend(keep)
    return removed


def export(src: Path, dest: Path, shape: list[int], name: str = "model") -> dict[str, Any]:
    import mxnet as mx
    import numpy as np
    import onnx

    ckpt = find_checkpoint(src)
    if len(ckpt.input_names) != 1:
        raise ExportError(f"only single-input MXNet models can be exported; this one takes {ckpt.input_names}")
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.onnx"
    dynamic = [None, *shape[1:]]
    try:
        mx.onnx.export_model(
            str(ckpt.symbol),
            str(ckpt.params),
            in_shapes=[shape],
            in_types=[np.float32],
            onnx_file_path=str(path),
            dynamic=True,
            dynamic_input_shapes=[dynamic],
        )
    except Exception as exc:  # the exporter raises AttributeError/KeyError/NotImplementedError alike
        raise ExportError(f"MXNet's ONNX exporter failed: {type(exc).__name__}: {mxnet_reason(exc)}") from None
    model = onnx.load(str(path))
    removed = strip_weight_inputs(model)
    onnx.save(model, str(path))
    # What MXNet answers, for the final image to compare ONNX Runtime against.
    net = load_block(src)
    batch = np.random.default_rng(0).standard_normal([2, *shape[1:]]).astype(np.float32)
    out = net.lit_forward([batch])
    expected = (out[0] if isinstance(out, (list, tuple)) else out).asnumpy()
    np.savez(dest / PARITY, **{"input:" + model.graph.input[0].name: batch, "output": expected})
    for item in src.iterdir():  # the model's other files (a tokenizer, notes) come along
        if item.is_file() and item not in (ckpt.symbol,) and not item.name.endswith(".params"):
            shutil.copy2(item, dest / item.name)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return {"source": ckpt.symbol.name, "opset": opset, "weights_unlisted": removed}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lit_runtime.mx_export")
    parser.add_argument("src", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--shape", required=True, help="one batch's shape, e.g. 1,3,224,224")
    args = parser.parse_args(argv)
    from .buildtool import run

    return run(
        "export",
        lambda: export(args.src, args.dest, [int(v) for v in args.shape.split(",")]),
        ExportError,
        lambda m: (
            f"{m['source']} -> ONNX opset {m['opset']} ({m['weights_unlisted']} weights taken out of the graph's inputs)"
        ),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
