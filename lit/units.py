"""Durations as people write them (30s, 10m, 2h, 1d), and Lambda memory sizes given as flags."""

from __future__ import annotations

import math
import re

from . import lambda_limits as limits
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


def memory_sizes(value: str, flag: str = "--memory") -> list[int]:
    """A comma-separated list of Lambda memory sizes (MB), each in Lambda's range; else a usage
    error (exit 2) naming the flag."""
    low, high = limits.MEMORY_MB
    try:
        sizes = [int(m) for m in value.split(",")]
    except ValueError:
        raise LitError(
            f"{flag} {value!r} is not a list of numbers", f"pass e.g. {flag} 512,1024,2048", exit_code=2
        ) from None
    if bad := [m for m in sizes if not low <= m <= high]:
        raise LitError(
            f"{flag}: memory sizes {bad} are outside Lambda's {low}..{high} MB", "pass sizes in that range", exit_code=2
        )
    return sizes


def in_range(value: int, bounds: tuple[int, int], flag: str, unit: str) -> int:
    """A flag's number within Lambda's bounds for it; else a usage error (exit 2)."""
    if not bounds[0] <= value <= bounds[1]:
        raise LitError(
            f"{flag} {value} is outside Lambda's {bounds[0]}..{bounds[1]} {unit}",
            "pass a value in that range",
            exit_code=2,
        )
    return value
