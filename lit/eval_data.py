"""Labelled held-out data for `lit eval`, in the layouts models' data comes in:

- a folder per label: DATA/cat/1.jpg, DATA/dog/2.png (the label is the folder's name);
- files with a `labels.json` beside them: {"0000.png": 2, ...}, or under "labels" (the digits
  example's heldout/), or, for detection, {"images": {"0000.png": [{"box": [x1, y1, x2, y2],
  "class": 1}, ...]}, "classes": [...]} (the shapes-detect example's);
- a JSON file {"texts": [...], "labels": [...]} (the text-embed example's heldout.json);
- a JSONL or CSV file, one example a row: the input as `text`, `image` (a file path, relative to the
  data file) or `event` (a whole direct event, JSONL only), and the answer as `label` (or `expected`);
- `.npy` pairs: NAME.npy, the input, and NAME.expected.npy, the tensor expected back.
"""

from __future__ import annotations

import base64
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import npy
from .errors import LitError

IMAGES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
LABELS = "labels.json"
FIX = (
    "lay the data out as a folder per label, files with a labels.json, a JSONL/CSV of inputs with a label "
    "column, or NAME.npy with NAME.expected.npy (see `lit eval --help`)"
)


@dataclass(frozen=True)
class Example:
    name: str  # the file, or the row, for reports
    event: dict[str, Any]  # the direct event that sends its input
    expected: Any  # a label (str or int), a list of truth boxes, or an npy.Tensor


@dataclass(frozen=True)
class Dataset:
    source: str
    kind: str  # "label" | "boxes" | "tensor": what is expected of each answer
    examples: list[Example]
    classes: list[str] | None = None  # detection class names, when the truth names them


def load(path: Path) -> Dataset:
    if not path.exists():
        raise LitError(f"{path} does not exist", "pass --data with a folder or file of held-out examples")
    if path.is_dir():
        data = _directory(path)
    elif path.suffix == ".jsonl":
        data = _rows(
            path, [_json_row(path, n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
        )
    elif path.suffix == ".csv":
        with path.open(newline="") as f:
            data = _rows(path, list(csv.DictReader(f)))
    elif path.suffix == ".json":
        data = _texts(path)
    else:
        raise LitError(f"{path}: LIT cannot read {path.suffix or 'this'} files as held-out data", FIX)
    if not data.examples:
        raise LitError(f"{path} holds no examples", FIX)
    return data


def _directory(root: Path) -> Dataset:
    if (root / LABELS).is_file():
        return _labelled(root)
    pairs = sorted(p for p in root.glob("*.expected.npy"))
    if pairs:
        examples = []
        for expected in pairs:
            source = expected.with_name(expected.name.removesuffix(".expected.npy") + ".npy")
            if not source.is_file():
                raise LitError(f"{expected} has no input {source.name} beside it", FIX)
            tensor = npy.read(expected.read_bytes(), str(expected))
            examples.append(Example(source.name, _npy_event(source), tensor))
        return Dataset(str(root), "tensor", examples)
    examples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for file in sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGES):
            examples.append(Example(f"{folder.name}/{file.name}", _image_event(file), folder.name))
    return Dataset(str(root), "label", examples)


def _labelled(root: Path) -> Dataset:
    path = root / LABELS
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LitError(f"{path} is not JSON: {exc}", 'write it as {"FILE": LABEL, ...}') from None
    if not isinstance(doc, dict):
        raise LitError(f"{path} must be a JSON object of file -> label", FIX)
    table = doc.get("images") or doc.get("labels") or doc
    classes = doc.get("classes") if isinstance(doc.get("classes"), list) else None
    examples, kinds = [], set()
    for name in sorted(table):
        value = table[name]
        if not isinstance(value, (str, int, list)) or isinstance(value, bool):
            continue  # other keys of the file (the digits example's "accuracy")
        file = root / name
        if not file.is_file():
            raise LitError(f"{path} names {name}, which is not in {root}", "remove the entry or add the file")
        kinds.add("boxes" if isinstance(value, list) else "label")
        examples.append(Example(name, _event(file), value))
    if len(kinds) > 1:
        raise LitError(f"{path} mixes labels and box lists", "give each file a label, or each a list of boxes")
    return Dataset(str(root), kinds.pop() if kinds else "label", examples, classes)


def _texts(path: Path) -> Dataset:
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LitError(f"{path} is not JSON: {exc}", FIX) from None
    texts, labels = (doc.get("texts"), doc.get("labels")) if isinstance(doc, dict) else (None, None)
    if not isinstance(texts, list) or not isinstance(labels, list) or len(texts) != len(labels):
        raise LitError(f'{path} must hold "texts" and "labels", two lists of one length', FIX)
    examples = [Example(f"text {i}", {"text": t}, label) for i, (t, label) in enumerate(zip(texts, labels))]
    return Dataset(str(path), "label", examples)


def _json_row(path: Path, n: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LitError(f"{path}:{n} is not JSON: {exc}", "one JSON object a line") from None
    if not isinstance(row, dict):
        raise LitError(f"{path}:{n} is not a JSON object", "one JSON object a line")
    return row


def _rows(path: Path, rows: list[dict[str, Any]]) -> Dataset:
    examples = []
    for n, row in enumerate(rows, 1):
        expected = row.get("label", row.get("expected"))
        if expected is None or expected == "":
            raise LitError(f"{path}: row {n} has no label", "give each row a label (or expected) column")
        if isinstance(row.get("event"), dict):
            event = row["event"]
        elif row.get("text"):
            event = {"text": row["text"]}
        elif row.get("image"):
            file = (path.parent / str(row["image"])).resolve()
            if not file.is_file():
                raise LitError(
                    f"{path}: row {n}: {row['image']} does not exist", "image paths are relative to the file"
                )
            event = _image_event(file)
        else:
            raise LitError(f"{path}: row {n} has no input", "give each row a text, image or event")
        examples.append(Example(f"row {n}", event, expected))
    return Dataset(str(path), "label", examples)


def _event(file: Path) -> dict[str, Any]:
    return _npy_event(file) if file.suffix == ".npy" else _image_event(file)


def _image_event(file: Path) -> dict[str, Any]:
    return {"image": base64.b64encode(file.read_bytes()).decode()}


def _npy_event(file: Path) -> dict[str, Any]:
    return {"npy": base64.b64encode(file.read_bytes()).decode()}
