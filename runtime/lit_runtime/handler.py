"""Lambda entry point: `lit_runtime.handler.handler`. Importing this module is the function's init."""

from __future__ import annotations

from typing import Any

from .app import App

app = App.start()


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, context)
