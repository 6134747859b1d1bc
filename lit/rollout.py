"""Canary and linear rollouts, watched: `lit deploy --canary 10%:5m` or `--linear 20%:2m`.

The new version gets a share of the alias's traffic through Lambda's weighted alias routing
(`AdditionalVersionWeights`), the old version the rest. Each step lasts its period, during which
the new version's health is read from CloudWatch every poll:
- Lambda's own metrics for the version the alias executed (AWS/Lambda, dimensions FunctionName,
  Resource = NAME:ALIAS, ExecutedVersion): Invocations, Errors, Throttles, and the Duration's p99;
- LIT's own EMF metrics for that version (namespace LIT, dimensions function, version): `errors`,
  the 5xx answers an HTTP trigger gets without the invoke failing.
Healthy at the end of a step: the next step (a canary's second step is all the traffic). Not
healthy at any poll: all of the alias's traffic goes back to the old version at once, and the
command says which figure crossed which threshold. CloudWatch's figures lag the traffic by up to a
minute or two on AWS: a step's last moments are judged at the next poll or not at all.

Stopped part-way (Ctrl-C, a kill), the alias keeps its weights: `lit status` shows them, `lit deploy`
again starts the rollout over and `lit rollback` sends all traffic back to the old version.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import LitError

SPEC = re.compile(r"^(?P<percent>\d+(?:\.\d+)?)%:(?P<period>\d+(?:\.\d+)?)(?P<unit>s|m|h)$")
UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Policy:
    kind: str  # canary | linear
    percent: float  # the canary's share, or each linear step's increment
    period_s: float

    @property
    def weights(self) -> list[float]:
        """The new version's share at each watched step, before it gets all the traffic."""
        if self.kind == "canary":
            return [self.percent / 100]
        n = int(100 // self.percent)
        return [round(self.percent * i / 100, 5) for i in range(1, n + 1) if self.percent * i < 100]

    def describe(self) -> str:
        steps = ", ".join(f"{w:.0%}" for w in self.weights)
        return f"{self.kind} {steps} then 100%, {self.period_s:g} s a step"


@dataclass(frozen=True)
class Thresholds:
    """What makes a step unhealthy (defaults: any throttle, over 1% of errors, a p99 over 1.5x the
    old version's in the same window, and 25 ms more, when both served at least 300 requests: with
    fewer, a p99 is one of the two slowest requests, and a hiccup or two (a scheduling stall, a new
    environment's first request) would roll a good version back)."""

    error_rate: float = 0.01
    throttles: int = 0
    p99_ratio: float = 1.5
    p99_ms: float | None = None  # an absolute bound on the new version's p99, when given
    min_requests: int = 300  # for the p99 comparison
    p99_slack_ms: float = 25.0  # and by at least this much: below it, a p99's difference is noise


@dataclass
class Health:
    invocations: float = 0.0
    errors: float = 0.0  # Lambda's Errors (the invoke failed) and LIT's errors (5xx answers)
    throttles: float = 0.0
    p99_ms: float | None = None
    old_invocations: float = 0.0
    old_p99_ms: float | None = None
    problems: list[str] = field(default_factory=list)


def parse(spec: str, kind: str) -> Policy:
    m = SPEC.match(spec.strip())
    percent = float(m["percent"]) if m else 0.0
    if m is None or not 0 < percent < 100:
        raise LitError(
            f"--{kind} {spec!r} is not a rollout step",
            f"give PERCENT%:PERIOD, e.g. --{kind} {'10%:5m' if kind == 'canary' else '20%:2m'} (percent in 1..99; s, m or h)",
            exit_code=2,
        )
    return Policy(kind, percent, float(m["period"]) * UNITS[m["unit"]])


def chosen(canary: str | None, linear: str | None) -> Policy | None:
    """The rollout `--canary` or `--linear` asks for, if either."""
    if canary and linear:
        raise LitError("--canary and --linear are two ways to roll out", "pass one of them", exit_code=2)
    return parse(canary, "canary") if canary else parse(linear, "linear") if linear else None


def health(
    metrics: Any, name: str, alias: str, old: str, new: str, start: dt.datetime, end: dt.datetime, limits: Thresholds
) -> Health:
    """The new version's figures since `start`, against the thresholds (and the old version's p99)."""
    resource = {"FunctionName": name, "Resource": f"{name}:{alias}"}
    queries = {
        "inv": ("AWS/Lambda", "Invocations", {**resource, "ExecutedVersion": new}, "Sum"),
        "err": ("AWS/Lambda", "Errors", {**resource, "ExecutedVersion": new}, "Sum"),
        "thr": ("AWS/Lambda", "Throttles", {**resource, "ExecutedVersion": new}, "Sum"),
        "p99": ("AWS/Lambda", "Duration", {**resource, "ExecutedVersion": new}, "p99"),
        "lit": ("LIT", "errors", {"function": name, "version": new}, "Sum"),
        "old_inv": ("AWS/Lambda", "Invocations", {**resource, "ExecutedVersion": old}, "Sum"),
        "old_p99": ("AWS/Lambda", "Duration", {**resource, "ExecutedVersion": old}, "p99"),
    }
    got = metrics.figures(queries, start, end)
    h = Health(
        got["inv"] or 0.0,
        (got["err"] or 0.0) + (got["lit"] or 0.0),
        got["thr"] or 0.0,
        got["p99"],
        got["old_inv"] or 0.0,
        got["old_p99"],
    )
    if h.throttles > limits.throttles:
        h.problems.append(f"Throttles {h.throttles:g} > {limits.throttles}")
    if h.errors and h.errors / max(h.invocations, 1.0) > limits.error_rate:
        h.problems.append(
            f"errors {h.errors:g} of {h.invocations:g} requests ({h.errors / max(h.invocations, 1.0):.1%}) > {limits.error_rate:.1%}"
        )
    if limits.p99_ms is not None and h.p99_ms is not None and h.p99_ms > limits.p99_ms:
        h.problems.append(f"p99 Duration {h.p99_ms:.0f} ms > {limits.p99_ms:g} ms")
    enough = h.invocations >= limits.min_requests and h.old_invocations >= limits.min_requests
    mine, theirs = h.p99_ms, h.old_p99_ms
    if enough and mine is not None and theirs and mine > limits.p99_ratio * theirs:
        if mine - theirs > limits.p99_slack_ms:
            h.problems.append(f"p99 Duration {mine:.0f} ms > {limits.p99_ratio:g}x version {old}'s {theirs:.0f} ms")
    return h


class RolledBack(LitError):
    """The new version was unhealthy during a step: all traffic went back to the old version."""


def run(
    lam: Any,
    metrics: Any,
    name: str,
    alias: str,
    old: str,
    new: str,
    policy: Policy,
    limits: Thresholds,
    log: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Route, watch, promote step by step; roll back at once when a step is unhealthy. Returns the
    figures of each step."""
    poll = poll_s if poll_s is not None else min(30.0, max(1.0, policy.period_s / 5))
    steps: list[dict[str, Any]] = []
    for weight in policy.weights:
        lam.route(name, alias, old, new, weight)
        log(
            f"- {weight:.0%} of {alias}'s traffic to version {new} (version {old} keeps the rest) for {policy.period_s:g} s"
        )
        start = dt.datetime.now(dt.UTC)
        deadline = clock() + policy.period_s
        while True:
            sleep(max(0.0, min(poll, deadline - clock())))
            h = health(metrics, name, alias, old, new, start, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1), limits)
            if h.problems:
                lam.set_alias(name, alias, old, True)
                raise RolledBack(
                    f"rolled back: version {new} at {weight:.0%} of {alias}'s traffic had {'; '.join(h.problems)}; "
                    f"alias {alias} is on version {old} with all the traffic again",
                    f"see `lit logs --remote` for version {new}'s errors; fix it and deploy again",
                )
            if clock() >= deadline:
                break
        figures = {
            "weight": weight,
            "invocations": h.invocations,
            "errors": h.errors,
            "throttles": h.throttles,
            "p99_ms": h.p99_ms,
        }
        steps.append(figures)
        seen = f"{h.invocations:g} requests, {h.errors:g} errors" + (f", p99 {h.p99_ms:.0f} ms" if h.p99_ms else "")
        log(
            f"  healthy at {weight:.0%}: {seen}" + ("" if h.invocations else " (no traffic reached it: judged on none)")
        )
    lam.set_alias(name, alias, new, True)
    log(f"- all of {alias}'s traffic to version {new}")
    return steps


def routing(alias_doc: dict[str, Any] | None) -> tuple[str, float] | None:
    """A rollout the alias is in (started, or stopped part-way): the other version and its share."""
    weights = ((alias_doc or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return next(((str(v), float(w)) for v, w in weights.items()), None)
