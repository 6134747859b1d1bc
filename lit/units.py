"""Durations as people write them: 30s, 10m, 2h, 1d."""

from __future__ import annotations

import math
import re

from .errors import LitError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: str) -> float | None:
    """'90s', '10m', '2h', '1d' (or a bare number of seconds) in seconds; None if it is neither."""
    text = value.strip()
    if m := _DURATION.match(text):
        return float(m.group(1)) * _UNITS[m.group(2)]
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number >= 0 and math.isfinite(number) else None


def option(value: str, flag: str) -> float:
    """A duration given to `flag`, above zero, or a usage error naming it."""
    span = seconds(value)
    if not span:
        raise LitError(f"{flag} {value!r} is not a duration", f"e.g. {flag} 30s, 10m, 2h or 1d", exit_code=2)
    return span
