"""ts.handler_utils.timer: `timed` as a pass-through (LIT logs each request's timings itself)."""

from collections.abc import Callable
from typing import Any


def timed(func: Callable[..., Any]) -> Callable[..., Any]:
    return func
