"""Rollout steps, and the health rules a watched step applies to CloudWatch's figures (the figures
given here; tests/e2e/test_aws.py watches real ones through the stand-in)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lit import rollout
from lit.errors import LitError

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def test_policies_and_their_steps() -> None:
    assert rollout.parse("10%:5m", "canary") == rollout.Policy("canary", 10.0, 300.0)
    assert rollout.parse("10%:5m", "canary").weights == [0.1]
    assert rollout.parse("20%:2m", "linear").weights == [0.2, 0.4, 0.6, 0.8]
    assert rollout.parse("30%:10s", "linear").weights == [0.3, 0.6, 0.9]
    assert rollout.parse("25%:1h", "linear").period_s == 3600
    for bad in ("10", "0%:5m", "100%:1m", "10%:5", "10%:5d", "x%:1m"):
        with pytest.raises(LitError, match="is not a rollout step") as err:
            rollout.parse(bad, "canary")
        assert err.value.exit_code == 2


class Figures:
    """CloudWatch's answer, as MetricsClient.figures gives it."""

    def __init__(self, **got: float | None) -> None:
        self.got = got
        self.asked: list[dict[str, Any]] = []

    def figures(self, queries: dict[str, Any], start: Any, end: Any) -> dict[str, float | None]:
        self.asked.append(queries)
        return {key: self.got.get(key) for key in queries}


def judge(**got: float | None) -> list[str]:
    return rollout.health(Figures(**got), "fn", "live", "1", "2", NOW, NOW, rollout.Thresholds()).problems


def test_the_health_rules() -> None:
    assert judge(inv=100, err=1, p99=50, old_inv=900, old_p99=45) == []
    assert judge(inv=100, err=2) == ["errors 2 of 100 requests (2.0%) > 1.0%"]
    assert judge(inv=0, lit=1) == ["errors 1 of 0 requests (100.0%) > 1.0%"], "LIT's 5xx answers count"
    assert judge(inv=10, thr=1) == ["Throttles 1 > 0"]
    assert judge(inv=300, p99=100, old_inv=300, old_p99=50) == ["p99 Duration 100 ms > 1.5x version 1's 50 ms"]
    assert judge(inv=299, p99=100, old_inv=900, old_p99=50) == [], "too few requests: a p99 is one of the slowest two"
    assert judge(inv=900, p99=100, old_inv=299, old_p99=50) == [], "the old version's p99 is as unsure"
    assert judge(inv=500, p99=30, old_inv=500, old_p99=8) == [], "3.75x, but 22 ms: jitter, not a regression"
    assert judge() == [], "no traffic: nothing to judge"


def test_the_new_versions_figures_are_read_per_executed_version() -> None:
    figures = Figures()
    rollout.health(figures, "fn", "live", "1", "2", NOW, NOW, rollout.Thresholds())
    asked = figures.asked[0]
    assert asked["inv"] == (
        "AWS/Lambda",
        "Invocations",
        {"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": "2"},
        "Sum",
    )
    assert asked["p99"][3] == "p99" and asked["old_p99"][2]["ExecutedVersion"] == "1"
    assert asked["lit"] == ("LIT", "errors", {"function": "fn", "version": "2"}, "Sum")


class Alias:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def route(self, name: str, alias: str, version: str, extra: str, weight: float) -> None:
        self.calls.append(("route", version, extra, weight))

    def set_alias(self, name: str, alias: str, version: str, exists: bool) -> None:
        self.calls.append(("set", version))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_healthy_rollout_is_promoted_step_by_step_and_a_sick_one_rolled_back_at_once() -> None:
    policy = rollout.parse("40%:2s", "linear")

    def run(lam: Alias, figures: Figures, clock: Clock) -> list[dict[str, Any]]:
        limits = rollout.Thresholds()
        return rollout.run(
            lam, figures, "fn", "live", "1", "2", policy, limits, lambda _: None, clock.sleep, 1.0, lambda: clock.now
        )

    lam, clock = Alias(), Clock()
    steps = run(lam, Figures(inv=50, err=0), clock)
    assert lam.calls == [("route", "1", "2", 0.4), ("route", "1", "2", 0.8), ("set", "2")]
    assert [s["weight"] for s in steps] == [0.4, 0.8] and clock.now == 4.0
    lam, clock = Alias(), Clock()
    with pytest.raises(rollout.RolledBack, match="version 2 at 40% of live's traffic had errors 5 of 50") as err:
        run(lam, Figures(inv=50, err=5), clock)
    assert lam.calls == [("route", "1", "2", 0.4), ("set", "1")] and clock.now == 1.0, "at the first poll"
    assert "alias live is on version 1 with all the traffic again" in str(err.value)


def test_the_routing_a_stopped_rollout_left() -> None:
    assert rollout.routing({"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}}) == (
        "2",
        0.1,
    )
    assert rollout.routing({"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {}}}) is None
    assert rollout.routing(None) is None
