"""Ctrl-C for the `lit` command: KeyboardInterrupt, except inside a finalizer.

Python swallows an exception raised in a `__del__` ("Exception ignored in ..."), so a Ctrl-C that
lands while a finalizer runs (a `Popen.__del__`, say) would be lost, and the command would run on.
There the interrupt is kept pending instead, and raised at LIT's next checkpoint: the start and end
of each docker command, and the command's exit."""

from __future__ import annotations

import signal
from types import FrameType

_pending = False


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            _pending = True
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def install() -> None:
    """Take SIGINT (also when the command started with it ignored, as a script's background job does)."""
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise the interrupt that landed in a finalizer, once."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


def pending() -> bool:
    return _pending
