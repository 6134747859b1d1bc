"""The Lambda simulation behind `lit plan`, against cases worked by hand.

Hand cases use evenly spaced arrivals and fixed durations, so every figure can be derived on paper;
the statistical cases check that the numpy engine is the same model as the request-by-request one.
"""

from __future__ import annotations

import statistics

import pytest

from lit import fastsim, simulate
from lit.simulate import Figures, Limits, Traffic

pytestmark = pytest.mark.unit


def fixed(warm_ms: float, cold_ms: float, memory: int = 1024) -> Figures:
    return Figures(memory, (warm_ms,), warm_ms, (cold_ms,), (cold_ms,))


def every(period: float, start: float, stop: float) -> list[float]:
    count = round((stop - start) / period)
    return [start + i * period for i in range(count)]


def serve(figures: Figures, limits: Limits, arrivals: list[float], duration: float) -> simulate.Outcome:
    engine = simulate.Engine(figures, limits, duration)
    engine.serve(arrivals)
    return engine.outcome()


def test_a_steady_rate_one_environment_can_carry_starts_one_environment_once() -> None:
    # 1 request a second, 50 ms each (cold: 800 ms), for an hour: one environment, always warm after the first
    out = serve(fixed(50, 800), Limits(), every(1.0, 0.0, 3600.0), 3600.0)
    assert (out.requests, out.cold, out.warm, out.throttled) == (3600, 1, 3599, 0)
    assert out.peak_concurrency == 1
    assert out.mean_concurrency == pytest.approx((0.8 + 3599 * 0.05) / 3600)
    assert out.level_cold[1] == 1
    assert out.level_busy_s[1] == pytest.approx(0.8 + 3599 * 0.05)  # one request in flight that long


def test_idle_environments_are_reclaimed_after_the_idle_time_and_not_before() -> None:
    limits = Limits(idle_reclaim_s=600.0)
    # idle 599.9 s after the first request ends (0.05 s): still warm; then idle 700 s: reclaimed
    out = serve(fixed(50, 50), limits, [0.0, 600.0, 1300.05 + 0.05], 2000.0)
    assert out.cold == 2 and out.warm == 1
    assert [b.cold for b in out.timeline if b.cold] == [1, 1]


def test_the_environment_used_last_is_reused_and_the_others_are_reclaimed() -> None:
    # A burst of 3 at once makes 3 environments; then 1 request a second keeps only the warmest alive:
    # after the reclaim time, a burst of 3 again needs 2 new ones.
    burst = [0.0, 0.001, 0.002]
    steady = every(1.0, 1.0, 100.0)
    out = serve(fixed(100, 100), Limits(idle_reclaim_s=30.0), [*burst, *steady, 100.0, 100.001, 100.002], 200.0)
    assert out.cold == 3 + 2
    assert out.peak_concurrency == 3
    assert out.level_cold[1:4] == [1, 2, 2]


def test_provisioned_environments_never_cold_start_and_the_rest_scale_on_demand() -> None:
    limits = Limits(provisioned=2, idle_reclaim_s=60.0)
    pairs = [t + dt for t in (0.0, 5000.0, 9000.0) for dt in (0.0, 0.001)]  # idle far past the reclaim time
    out = serve(fixed(100, 900), limits, pairs, 10000.0)
    assert out.cold == 0 and out.warm == 6
    three = serve(fixed(100, 900), limits, [0.0, 0.001, 0.002, 5000.0, 5000.001, 5000.002], 10000.0)
    assert three.cold == 2  # the third environment, twice: it is on demand, so reclaimed in between
    assert three.level_cold[3] == 2 and sum(three.level_cold[:3]) == 0


def test_the_concurrency_limit_throttles_what_finds_every_execution_busy() -> None:
    out = serve(fixed(1000, 1000), Limits(concurrency=2), [0.0, 0.1, 0.2, 0.3, 1.5], 10.0)
    assert out.throttled_concurrency == 2  # 0.2 and 0.3; by 1.5 the first two are done
    assert out.served == 3 and out.peak_concurrency == 2


def test_requests_per_second_are_capped_at_ten_times_the_concurrency() -> None:
    # 1 ms requests at 25 req/s for 10 s against a limit of 10 req/s (concurrency 1): the full bucket
    # lets the first 10 through, then 10 a second
    out = serve(fixed(1, 1), Limits(concurrency=1), every(0.04, 0.0, 10.0), 10.0)
    assert out.served == pytest.approx(10 + 10 * 10, abs=2)
    assert out.throttled_rate == out.requests - out.served


def test_a_step_to_three_thousand_environments_scales_in_ten_second_steps() -> None:
    # 0 -> 30,000 req/s of 99.9 ms requests (3,000 environments busy), account limit raised to 5,000.
    # Lambda adds 1,000 environments per 10 s: 1,000 serve 10,000 req/s in [0, 10), 2,000 serve
    # 20,000 req/s in [10, 20), then all 3,000 are there. Throttled: 20,000 x 10 + 10,000 x 10.
    arrivals = every(1 / 30000, 0.0, 30.0)
    engine = simulate.Engine(fixed(99.9, 99.9), Limits(concurrency=5000), 30.0, bucket_s=10.0)
    engine.serve(arrivals)
    out = engine.outcome()
    assert 2997 <= out.cold == out.peak_concurrency <= 3000  # 30,000 x 0.0999 s, give or take an instant
    assert out.throttled_scaling == pytest.approx(300_000, rel=0.005)
    assert out.throttled_concurrency == out.throttled_rate == 0
    steps = [(b.peak, b.cold, b.throttled) for b in out.timeline]
    assert [s[0] for s in steps[:2]] == [1000, 2000] and steps[2][0] == out.peak_concurrency
    assert [s[1] for s in steps[:2]] == [1000, 1000]
    assert steps[0][2] == pytest.approx(200_000, rel=0.005) and steps[1][2] == pytest.approx(100_000, rel=0.01)
    assert steps[2][2] < 100  # only the first instants of [20, 30), before the third thousand starts


def test_the_same_step_under_the_default_account_limit_is_capped_at_a_thousand() -> None:
    # 1,000 environments serve 10,000 req/s, which is also the rate limit (10 x 1,000): past the first
    # instants, the rate limit turns away 20,000 req/s and the rest is served
    arrivals = every(1 / 30000, 0.0, 20.0)
    out = serve(fixed(99.9, 99.9), Limits(), arrivals, 20.0)
    assert out.cold == 1000 == out.peak_concurrency
    assert out.throttled == pytest.approx(400_000, rel=0.01)
    assert out.throttled_rate == pytest.approx(20_000 * 20 - 10_000, rel=0.01)  # the bucket starts full


def test_poisson_arrivals_follow_the_profile() -> None:
    traffic = Traffic(((0.0, 50.0), (100.0, 0.0), (200.0, 10.0)), 300.0)
    import random

    times = [t for chunk in traffic.arrivals(random.Random(5)) for t in chunk]
    assert times == sorted(times)
    assert 50 * 100 * 0.9 < sum(t < 100 for t in times) < 50 * 100 * 1.1
    assert not [t for t in times if 100 <= t < 200]
    assert 10 * 100 * 0.85 < sum(t >= 200 for t in times) < 10 * 100 * 1.15
    assert traffic.requests == 6000


def churny() -> Traffic:
    cycles = tuple((c * 150.0 + s, r) for c in range(6) for s, r in ((0.0, 8.0), (60.0, 2.0), (120.0, 0.0)))
    return Traffic(cycles, 900.0)


def test_the_numpy_engine_is_the_same_model_as_the_request_by_request_one() -> None:
    figures = Figures(1024, tuple(80 + i for i in range(40)), 100.0, (600.0, 700.0, 800.0), (500.0, 600.0, 700.0))
    limits = Limits(concurrency=6, idle_reclaim_s=20.0)
    slow = [simulate.run(figures, limits, churny(), seed) for seed in range(120)]
    fast = [fastsim.run(figures, limits, churny(), seed) for seed in range(120)]
    for o in slow[:3] + fast[:3]:
        assert sum(o.level_busy_s) == pytest.approx(o.busy_s)
    for measure in ("cold", "served", "throttled", "peak_concurrency", "mean_concurrency"):
        a = statistics.fmean(getattr(o, measure) for o in slow)
        b = statistics.fmean(getattr(o, measure) for o in fast)
        assert b == pytest.approx(a, rel=0.1, abs=0.5), measure
    assert statistics.fmean(o.cold for o in slow) > 20  # the case has cold starts to compare


def test_the_numpy_engine_gives_hand_results_on_a_steady_rate() -> None:
    # a steady 200 req/s of 20 ms from no environment: the first 300 ms (a cold start) pile up about
    # 60 environments, all kept (nothing is idle for 10 minutes); every request served
    out = fastsim.run(fixed(20, 300), Limits(), Traffic(((0.0, 200.0),), 600.0), seed=3)
    assert out.throttled == 0
    assert out.served == out.requests
    assert 200 * 600 * 0.97 < out.requests < 200 * 600 * 1.03
    assert out.mean_concurrency == pytest.approx(200 * 0.02, rel=0.05)
    assert out.cold == out.peak_concurrency and 40 <= out.peak_concurrency <= 80
    assert sum(out.level_busy_s) == pytest.approx(out.busy_s)
    assert out.level_busy_s[1] > out.level_busy_s[5] > out.level_busy_s[10] >= 0
    assert sum(b.requests for b in out.timeline) == out.requests
