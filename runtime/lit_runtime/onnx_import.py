"""Build-time ONNX -> MXNet checkpoint conversion (`python -m lit_runtime.onnx_import SRC DEST`).

Runs in a throwaway stage of `lit build`, where `onnx` is installed; the function image gets only
the resulting NAME-symbol.json + NAME-0000.params (and lit-inputs.json), never `onnx` itself.

Two things MXNet's importer does not do on its own:
- today's exporters leave initializers out of graph.input (ONNX IR >= 4 allows it); the importer
  then fails with a KeyError, so they are added back as inputs first;
- an operator it cannot convert fails deep inside it; it is named here, with the opset, up front.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


class ConversionError(Exception):
    pass


def _find(src: Path) -> Path:
    if src.is_file():
        return src
    found = sorted(src.glob("*.onnx"))
    if len(found) != 1:
        raise ConversionError(f"expected one .onnx file in {src}, found {len(found)}")
    return found[0]


def _opset(model: Any) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def prepare(model: Any) -> list[str]:
    """Add initializers missing from graph.input; return the real (data) input names."""
    from onnx import helper

    graph = model.graph
    listed = {i.name for i in graph.input}
    initializers = {t.name for t in graph.initializer}
    for tensor in graph.initializer:
        if tensor.name not in listed:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    return [i.name for i in graph.input if i.name not in initializers]


def check_operators(model: Any) -> None:
    from mxnet.contrib.onnx.onnx2mx._import_helper import _convert_map

    opset = _opset(model)
    missing = sorted({n.op_type for n in model.graph.node if n.op_type not in _convert_map})
    if missing:
        raise ConversionError(
            f"operator{'s' if len(missing) > 1 else ''} {', '.join(missing)} (ONNX opset {opset}) "
            "cannot be converted by MXNet 1.9's ONNX importer"
        )


def convert(src: Path, dest: Path, name: str = "model") -> dict[str, Any]:
    import mxnet as mx
    import onnx
    from mxnet.contrib.onnx.onnx2mx.import_onnx import GraphProto

    path = _find(src)
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ConversionError(f"{path.name} is not a readable ONNX model: {exc}") from None
    inputs = prepare(model)
    check_operators(model)
    shapes = {
        i.name: [d.dim_value or None for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
        if i.name in inputs
    }
    with tempfile.TemporaryDirectory() as tmp:
        fixed = Path(tmp) / "model.onnx"
        onnx.save(model, str(fixed))
        importer = GraphProto()
        current: dict[str, str] = {}
        convert_operator = importer._convert_operator

        def tracked(node_name: str, op_name: str, attrs: Any, inputs: Any) -> Any:
            current.update(node=node_name, op=op_name)
            return convert_operator(node_name, op_name, attrs, inputs)

        importer._convert_operator = tracked  # which node the importer was on when it failed
        try:
            sym, args, aux = importer.from_onnx(onnx.load(str(fixed)).graph, _opset(model))
        except Exception as exc:
            from .model import mxnet_reason

            where = (
                f"operator {current['op']} (node {current['node']}, ONNX opset {_opset(model)})"
                if current
                else (f"{path.name} (ONNX opset {_opset(model)})")
            )
            raise ConversionError(
                f"MXNet 1.9's ONNX importer cannot convert {where}: {type(exc).__name__}: {mxnet_reason(exc)}"
            ) from None
    dest.mkdir(parents=True, exist_ok=True)
    mx.model.save_checkpoint(str(dest / name), 0, sym, args, aux)
    for item in path.parent.iterdir():  # the model's other files (a tokenizer, notes) come along
        if item.is_file() and item != path and not item.name.startswith(path.name + "."):
            shutil.copy2(item, dest / item.name)
    meta = {"source": path.name, "opset": _opset(model), "inputs": inputs, "shapes": shapes}
    (dest / "lit-inputs.json").write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str]) -> int:
    from .buildtool import main as tool

    return tool(
        "convert",
        argv,
        "python -m lit_runtime.onnx_import SRC DEST",
        convert,
        ConversionError,
        lambda m: f"{m['source']} (opset {m['opset']}) -> MXNet checkpoint, inputs {m['inputs']}",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
