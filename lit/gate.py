"""`lit deploy`'s gate: `lit eval` of the candidate version on held-out data before the alias moves.

It refuses to move the alias when the measure is below a floor (`min`; for an error measure, above
it), or worse than the live version's by more than `max_drop`, saying by how much and on which data:

    [deploy.gate]            # in lit.toml, or the same keys in a file given to `lit deploy --gate`
    data = "heldout"         # relative to the file that names it
    min = 0.95               # the floor of the task's measure (accuracy, precision@k, mAP@0.5)
    max_drop = 0.01          # at most this much worse than the live version
    k = 5                    # precision@k's k (embed)
    batch = 1                # examples per request
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, LitError

KEYS = {"data", "min", "max_drop", "k", "batch"}


@dataclass(frozen=True)
class Gate:
    data: Path
    minimum: float | None = None
    max_drop: float | None = None
    k: int = 5
    batch: int = 1


class Refused(LitError):
    """The candidate failed the gate: the alias stays where it was."""


def parse(table: Any, base: Path, where: str) -> Gate:
    """A gate from its table (lit.toml's [deploy.gate], or a gate file), paths relative to `base`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table", "write it as [deploy.gate] with data = ... and min or max_drop")
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}", f"use one of: {', '.join(sorted(KEYS))}")
    data = table.get("data")
    if not isinstance(data, str) or not (base / data).exists():
        raise ConfigError(f"{where}: data = {data!r} is not a file or folder", "name the held-out data, relative to it")
    bounds = {key: table.get(key) for key in ("min", "max_drop")}
    for key, value in bounds.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"{where}: {key} = {value!r}", f"give {key} as a number, 0 or more")
    if all(v is None for v in bounds.values()):
        raise ConfigError(f"{where} sets neither min nor max_drop", "give a floor (min), a margin (max_drop), or both")
    whole = {key: table.get(key, default) for key, default in (("k", 5), ("batch", 1))}
    for key, value in whole.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: {key} = {value!r}", f"give {key} as a whole number, 1 or more")
    minimum, drop = bounds["min"], bounds["max_drop"]
    return Gate(
        (base / data).resolve(),
        None if minimum is None else float(minimum),
        None if drop is None else float(drop),
        whole["k"],
        whole["batch"],
    )


def load(path: Path) -> Gate:
    """`lit deploy --gate FILE`: its keys at the top, or under [gate] or [deploy.gate]."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as TOML: {exc}", "give --gate a TOML file of gate keys") from None
    table = doc.get("deploy", {}).get("gate") or doc.get("gate") or doc
    return parse(table, path.parent, str(path))


def check(
    lam: Any, name: str, candidate: str, live: str | None, gate: Gate, log: Callable[[str], None]
) -> dict[str, Any]:
    """Evaluate the candidate version (and the live one, for max_drop); raise Refused with the
    figures when it fails; return them when it passes."""
    from . import eval_data, evaluate

    data = eval_data.load(gate.data)
    log(f"gate: evaluating version {candidate} on {gate.data} ({len(data.examples)} examples)")
    mine = evaluate.run_remote(lam, name, candidate, data, gate.batch, log)
    compare_live = gate.max_drop is not None and live is not None and live != candidate
    if compare_live:
        assert live is not None
        other = evaluate.run_remote(lam, name, live, data, gate.batch, log)
        score, cmp = evaluate.compare(data, mine, other, gate.k)
    else:
        score, cmp = evaluate.score(data, mine, gate.k)[0], None
    lower_better = score.task == "raw"  # an error: the floor is a ceiling, a drop is a rise
    sign = -1.0 if lower_better else 1.0
    figures: dict[str, Any] = {
        "version": candidate,
        "metric": score.metric,
        "value": score.value,
        "data": str(gate.data),
    }
    problems = []
    if gate.minimum is not None and sign * (score.value - gate.minimum) < 0:
        bound = "above the ceiling" if lower_better else "below the floor"
        problems.append(
            f"{score.metric} {score.value:.4f} is {bound} {gate.minimum:g} by {abs(score.value - gate.minimum):.4f}"
        )
    if cmp is not None:
        assert gate.max_drop is not None
        figures.update(live=live, live_value=cmp.other.value, delta=cmp.delta, interval=list(cmp.interval))
        drop = -sign * cmp.delta
        if drop > gate.max_drop:
            lo, hi = cmp.interval
            problems.append(
                f"{score.metric} {score.value:.4f} is {drop:.4f} worse than live version {live}'s {cmp.other.value:.4f} "
                f"(95% interval of the difference [{lo:+.4f}, {hi:+.4f}]), over max_drop {gate.max_drop:g}"
            )
    if problems:
        raise Refused(
            f"gate refused version {candidate} on {gate.data}: " + "; ".join(problems),
            "deploy a better model, or change the gate's min / max_drop",
        )
    log(f"gate: passed, {score.metric} {score.value:.4f}" + (f" (live {cmp.other.value:.4f})" if cmp else ""))
    return figures
