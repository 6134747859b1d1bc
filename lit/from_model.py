"""`lit init DIR --from PATH`: a project made from a model as it was exported, with every choice
guessed from the graph and the files beside it, written to lit.toml with the reason on each line.

PATH is an .onnx file, a directory as Hugging Face / optimum exports lay it out (model.onnx,
tokenizer.json, config.json with id2label, preprocessor_config.json), or an MXNet checkpoint
directory (NAME-symbol.json + NAME-NNNN.params). `lit build` checks every guess against the graph.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import onnx_graph
from .errors import LitError
from .onnx_graph import Tensor

FLOATS = ("float32", "float16", "float64", "bfloat16")
INTS = ("int64", "int32")


@dataclass
class Guess:
    """What init decided, each with its reason: lit.toml's lines and what `lit init` prints."""

    lines: list[tuple[str, str]] = field(default_factory=list)  # (toml line, why)
    tables: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def set(self, line: str, why: str, table: str = "model") -> None:
        (self.lines if table == "model" else self.tables.setdefault(table, [])).append((line, why))


def _find_model(path: Path) -> tuple[str, Path, Path]:
    """(format, the model file or checkpoint directory, the directory its companions are in)."""
    if path.is_file():
        if path.suffix != ".onnx":
            raise LitError(
                f"{path} is not an .onnx file, nor a zip or tar archive",
                "pass an .onnx file, an export directory or a checkpoint, or another server's archive "
                "(a Model Server .mar, a SageMaker model.tar.gz)",
            )
        return "onnx", path, path.parent
    if not path.is_dir():
        raise LitError(f"{path} does not exist", "pass the exported .onnx file or its directory")
    if any(path.glob("*-symbol.json")):
        return "mxnet", path, path
    found = sorted(path.glob("*.onnx")) or sorted(path.glob("onnx/*.onnx"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise LitError(
            f"{path} holds no single model: .onnx files {names}, no NAME-symbol.json",
            "pass the one .onnx file to serve",
        )
    return "onnx", found[0], path


def _json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _image_input(inputs: tuple[Tensor, ...]) -> Tensor | None:
    if len(inputs) != 1:
        return None
    (one,) = inputs
    shape = one.shape or ()
    return one if one.dtype in FLOATS and len(shape) == 4 and shape[1] in (1, 3) else None


def _text_inputs(inputs: tuple[Tensor, ...]) -> bool:
    names = [t.name.lower() for t in inputs]
    return (
        bool(inputs)
        and all(t.dtype in INTS for t in inputs)
        and any("ids" in n or n in ("input", "tokens") for n in names)
    )


def _detection(outputs: tuple[Tensor, ...], image: bool) -> str | None:
    names = [t.name.lower() for t in outputs]
    if (
        any("box" in n for n in names)
        and any("score" in n for n in names)
        and any("class" in n or "label" in n for n in names)
    ):
        return "named outputs boxes, scores and classes: detections after non-maximum suppression"
    if image and len(outputs) == 1 and len(outputs[0].shape or ()) == 3:
        shape = outputs[0].shape or ()
        if isinstance(shape[1], int) and shape[1] >= 5 and (not isinstance(shape[2], int) or shape[1] < shape[2]):
            return f"one output {outputs[0].spec()}: YOLO-style [batch, 4 + classes, candidates], before NMS"
    return None


def guess(path: Path) -> tuple[Guess, list[Path], list[str]]:
    """The choices for the model at path, the files to copy into model/, and its labels."""
    fmt, model, home = _find_model(path)
    config = _json(home / "config.json")
    g = Guess()
    labels = _labels(home, config)
    if fmt == "mxnet":
        g.set('format = "mxnet"', "an MXNet checkpoint (NAME-symbol.json + params)")
        channels = _mxnet_channels(next(home.glob("*-symbol.json")))
        if channels in (1, 3):
            g.set('input = "image"', f"its first convolution reads {channels} channel(s)")
            g.set("size = [224, 224]", "a checkpoint does not record its input size: set the training size", "image")
            g.set(f'color = "{"gray" if channels == 1 else "rgb"}"', f"{channels} channel(s)", "image")
        elif not channels:
            g.set('input = "image"', "a checkpoint does not record its input: image assumed, check it")
            g.set("size = [224, 224]", "a checkpoint does not record its input size: set the training size", "image")
        else:
            g.set('input = "tensor"', f"its first convolution reads {channels} channels: tensors assumed, check it")
        files = [p for p in home.iterdir() if p.is_file()]
        return _with_labels(g, labels), files, labels
    graph = onnx_graph.read(model)
    g.set('format = "onnx"', f"{model.name}: served as exported by ONNX Runtime")
    tokenizer = home / "tokenizer.json"
    image = _image_input(graph.inputs)
    if image is not None:
        kind = "image"
        g.set('input = "image"', f"one 4-D float input {image.spec()} with {image.shape[1]} channel(s)")  # type: ignore[index]
    elif tokenizer.is_file() and _text_inputs(graph.inputs):
        kind = "text"
        g.set('input = "text"', f"tokenizer.json beside the model and token inputs {_specs(graph.inputs)}")
    else:
        kind = "tensor"
        why = f"inputs {_specs(graph.inputs)}" + (" and no tokenizer.json" if _text_inputs(graph.inputs) else "")
        g.set('input = "tensor"', why)
    task, why = _task(graph, kind, config, labels)
    g.set(f'task = "{task}"', why)
    g = _with_labels(g, labels)
    if kind == "image":
        _image_table(g, image, _json(home / "preprocessor_config.json"))  # type: ignore[arg-type]
    if kind == "text":
        _text_table(g, graph.inputs, config)
    data = [  # the exporter's external weights, beside the .onnx (optimum may put it in onnx/)
        p
        for p in model.parent.iterdir()
        if p.is_file() and (p.name.startswith(model.name + ".") or p.name == model.stem + ".data")
    ]
    companions = [home / n for n in ("tokenizer.json", "config.json") if (home / n).is_file()]
    return g, [model, *data, *companions], labels


def _mxnet_channels(symbol: Path) -> int | None:
    """The channels the first Convolution reads, from its weight's recorded shape (out, in, kh, kw)."""
    try:
        nodes = json.loads(symbol.read_text())["nodes"]
        conv = next(n for n in nodes if n.get("op") == "Convolution")
        for ref in conv.get("inputs", [])[1:2]:
            shape = (nodes[ref[0]].get("attrs") or {}).get("__shape__", "")
            dims = [int(d) for d in shape.strip("()[] ").split(",") if d.strip()]
            return dims[1] if len(dims) == 4 else None
    except (OSError, ValueError, KeyError, StopIteration, IndexError, TypeError):
        return None
    return None


def _specs(tensors: tuple[Tensor, ...]) -> str:
    return ", ".join(t.spec() for t in tensors)


def _task(graph: onnx_graph.Graph, kind: str, config: dict[str, Any], labels: list[str]) -> tuple[str, str]:
    outputs = graph.outputs
    if (why := _detection(outputs, kind == "image")) is not None:
        return "detect", why
    architectures = " ".join(str(a) for a in config.get("architectures") or [])
    ranks = [len(t.shape or ()) for t in outputs]
    if len(outputs) == 1 and ranks[0] == 2 and (kind != "tensor" or labels):
        return "classify", f"one output {outputs[0].spec()}: a score per class"
    if kind == "text" and any(r == 3 for r in ranks) and "For" not in architectures:
        seq = next(t for t, r in zip(outputs, ranks) if r == 3)
        return "embed", f"a text model with a sequence output {seq.spec()}: one vector per text (mean-pooled)"
    return "raw", f"outputs {_specs(outputs)}: every output answered by name"


def _labels(home: Path, config: dict[str, Any]) -> list[str]:
    id2label = config.get("id2label")
    if isinstance(id2label, dict) and id2label:
        try:
            return [str(label) for _, label in sorted((int(k), v) for k, v in id2label.items())]
        except ValueError:
            pass
    if (home / "labels.txt").is_file():
        return [line.strip() for line in (home / "labels.txt").read_text().splitlines() if line.strip()]
    return []


def _with_labels(g: Guess, labels: list[str]) -> Guess:
    if labels:
        g.set('labels = "labels.txt"', f"{len(labels)} labels from config.json's id2label or labels.txt")
    return g


def _image_table(g: Guess, image: Tensor, pre: dict[str, Any]) -> None:
    shape = image.shape or ()
    height, width = shape[2], shape[3]
    if isinstance(width, int) and isinstance(height, int):
        g.set(f"size = [{width}, {height}]", f"the graph's input is {height} high, {width} wide", "image")
    else:
        g.set(
            "size = [224, 224]", f"the graph's input size is not fixed ({image.spec()}): set the training size", "image"
        )
    g.set(f'color = "{"gray" if shape[1] == 1 else "rgb"}"', f"{shape[1]} channel(s)", "image")
    mean, std, rescale = pre.get("image_mean"), pre.get("image_std"), pre.get("rescale_factor")
    if isinstance(mean, list) and isinstance(std, list):
        scale = round(1 / float(rescale), 6) if isinstance(rescale, (int, float)) and rescale else 255.0
        g.set(f"scale = {scale}", "preprocessor_config.json's rescale_factor", "image")
        g.set(f"mean = {[float(v) for v in mean]}", "preprocessor_config.json's image_mean", "image")
        g.set(f"std = {[float(v) for v in std]}", "preprocessor_config.json's image_std", "image")
    else:
        g.set(
            "scale = 255.0", "no preprocessor_config.json: pixels / 255, no mean or std; check the training's", "image"
        )


def _text_table(g: Guess, inputs: tuple[Tensor, ...], config: dict[str, Any]) -> None:
    fixed = next((t.shape[1] for t in inputs if t.shape and len(t.shape) > 1 and isinstance(t.shape[1], int)), None)
    if fixed is not None:
        g.set(f"max_length = {fixed}", "the graph's fixed sequence length", "text")
        return
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        g.set(f"max_length = {min(positions, 512)}", "config.json's max_position_embeddings (at most 512)", "text")
    else:
        g.set("max_length = 128", "the graph's sequence length is dynamic and config.json does not say", "text")


def write(root: Path, source: Path, name: str | None = None, force: bool = False) -> tuple[list[Path], list[str]]:
    """Write the project at root: model/ (links to or copies of the model's files), labels.txt,
    lit.toml. Returns the files written and what was guessed, line by line."""
    from .scaffold import project_name

    root = root.resolve()
    config = root / "lit.toml"
    if config.exists() and not force:
        raise LitError(f"{config} already exists", "pick another directory, or pass --force to overwrite")
    g, files, labels = guess(source.resolve())
    name = project_name(root, name)
    model_dir = root / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in files:
        dest = model_dir / path.name
        if dest.exists():
            dest.unlink()
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)
        written.append(dest)
    if labels:
        (root / "labels.txt").write_text("\n".join(labels) + "\n")
        written.append(root / "labels.txt")
    lines = [f"# Made by `lit init --from {source}`: each guessed line says why. Check them.", f'name = "{name}"', ""]
    lines += ["[model]", 'path = "model"']
    lines += [f"{line:<28}# {why}" for line, why in g.lines]
    for table, entries in g.tables.items():
        lines += ["", f"[{table}]", *(f"{line:<28}# {why}" for line, why in entries)]
    lines += ["", "[function]", "memory = 2048", "timeout = 30", ""]
    config.write_text("\n".join(lines))
    written.append(config)
    said = [f"{line.split(' = ')[0]}: {line.split(' = ', 1)[1]} ({why})" for line, why in g.lines]
    said += [
        f"[{t}] {line.split(' = ')[0]}: {line.split(' = ', 1)[1]} ({why})"
        for t, es in g.tables.items()
        for line, why in es
    ]
    return written, said
