"""TorchServe handlers (a `BaseHandler` subclass, or a `handle(data, context)` function), called as
TorchServe's model loader and service call them (see _server.py for the contract).

The image carries no PyTorch and no TorchServe: handlers import a minimal `ts` package (shims/ts)
whose BaseHandler loads a .onnx serialized file into an onnxruntime.InferenceSession, as TorchServe's
own does, and runs preprocess -> inference -> postprocess in handle(). A handler that imports torch
fails at init with what to do instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._server import ServerAdapter, add_shims


class TorchServeAdapter(ServerAdapter):
    server = "TorchServe"
    server_name = "MMS"  # what TorchServe's own Context reports
    server_version = "0.12.0"

    def __init__(self, settings: Any, model_dir: Path) -> None:
        super().__init__(settings, model_dir)
        add_shims()

    def model_config(self, model: dict[str, Any]) -> dict[str, Any]:
        """The archive's model-config.yaml (torch-model-archiver --config-file), as context.model_yaml_config."""
        name = model.get("configFile") if isinstance(model, dict) else None
        if not name or not (self.model_dir / name).is_file():
            return {}
        return read_yaml(self.model_dir / name)

    def max_batch(self) -> int:
        size = self.yaml_config.get("batchSize", 1)
        return size if isinstance(size, int) and size > 0 else 1


def read_yaml(path: Path) -> dict[str, Any]:
    """PyYAML's reading where the image has it; else the top level of `key: value` lines (what
    TorchServe's model-config.yaml holds: batchSize, maxBatchDelay, responseTimeout, ...)."""
    text = path.read_text()
    try:
        import yaml  # type: ignore[import-untyped]

        loaded = yaml.safe_load(text)
        return dict(loaded) if isinstance(loaded, dict) else {}
    except ImportError:
        pass
    doc: dict[str, Any] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*(#.*)?", line)
        if not m or not m.group(2):
            continue
        value: Any = m.group(2).strip("\"'")
        if re.fullmatch(r"-?\d+", value):
            value = int(value)
        elif value.lower() in ("true", "false"):
            value = value.lower() == "true"
        doc[m.group(1)] = value
    return doc


ADAPTER = TorchServeAdapter
