"""MXNet Model Server / Multi Model Server handlers (`handle(data, context)`, or a service class),
called as MMS 1.x's model loader and service call them (see _server.py for the contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._server import ServerAdapter, add_shims


class MmsAdapter(ServerAdapter):
    server = "Multi Model Server"
    server_name = "MMS"
    server_version = "1.1.11"

    def __init__(self, settings: Any, model_dir: Path) -> None:
        super().__init__(settings, model_dir)
        add_shims()  # `mms.service.PredictionException`, `mms.context` for handlers that import them


ADAPTER = MmsAdapter
