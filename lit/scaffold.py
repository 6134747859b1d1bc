"""`lit init DIR`: a new function project with commented lit.toml and service.py."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import LitError

LIT_TOML = """\
# LIT function project. Docs: README.md, section "A function project".
name = "{name}"

[model]
path = "model"          # directory with NAME-symbol.json + NAME-EPOCH.params
format = "mxnet"
input = "image"         # image (JPEG/PNG bytes) | tensor (JSON nested lists, or .npy) | text (strings)
labels = "labels.txt"   # one label per line, in output order
top_k = 5

[image]
size = [224, 224]       # width, height the model expects
color = "rgb"           # rgb | bgr | gray
scale = 255.0           # pixel / scale, then (x - mean) / std per channel
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]

[function]
memory = 2048           # MB; CPU share is memory / 1769 vCPUs, as on Lambda
timeout = 30            # seconds
# architecture = "arm64"  # Graviton: about 20% cheaper per GB-second (default x86_64)
"""

SERVICE = '''\
"""Optional hooks. Delete any you do not need: LIT's default takes its place.

context.model is the loaded model, context.settings the parsed lit.toml, context.state a dict
for your own objects. Everything here runs once at init except the three per-request hooks.
"""


def initialize(context):
    """Called once at init after the model loads. Return a model object to replace it."""
    return None


# def preprocess(inputs, context):
#     """inputs: a list of raw inputs (bytes for images). Return the batch for inference."""
#
# def inference(batch, context):
#     """Return the model's outputs for the batch."""
#
# def postprocess(outputs, context):
#     """Return one JSON-serialisable result per input."""
'''


def project_name(root: Path, name: str | None) -> str:
    """The function's name: the one given, else the directory's, made fit for an image and a function."""
    if name:
        return name
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", root.name.lower()).strip("-_")[:64]
    return cleaned or "function"


def init(root: Path, name: str | None = None, force: bool = False) -> list[Path]:
    root = root.resolve()
    name = project_name(root, name)
    config = root / "lit.toml"
    if config.exists() and not force:
        raise LitError(f"{config} already exists", "pick another directory, or pass --force to overwrite")
    (root / "model").mkdir(parents=True, exist_ok=True)
    files = {
        config: LIT_TOML.format(name=name),
        root / "service.py": SERVICE,
        root / "labels.txt": "",
        root / "model" / "README.md": "Put NAME-symbol.json and NAME-0000.params here (HybridBlock.export).\n",
    }
    written = []
    for path, text in files.items():
        if path.exists() and not force and path != config:
            continue
        path.write_text(text)
        written.append(path)
    return written
