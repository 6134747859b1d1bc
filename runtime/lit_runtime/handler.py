"""Lambda entry point: `lit_runtime.handler.handler`. Importing this module is the function's init."""

from __future__ import annotations

from typing import Any

from . import idle, oversize, snapstart
from .app import App
from .errors import InputError

oversize.refuse_oversized()
app = App.start()
snapstart.register(app)  # run by awslambdaric only when Lambda snapshots this init (SnapStart)
watch = idle.start()  # `lit run --idle-reclaim` only


def handler(event: Any, context: Any) -> Any:
    if watch:
        watch.begin()
    try:
        return app.handle(event, context)
    except InputError as exc:
        # A client error: the caller gets the message, not the runtime's stack (that is logged).
        raise exc.with_traceback(None) from None
    finally:
        if watch:
            watch.end()
