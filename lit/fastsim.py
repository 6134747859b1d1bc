"""The simulation of `lit.simulate`, with numpy doing the stretches where nothing happens.

Most requests find an idle environment and no limit near: then each request's concurrency is a
sorted search (how many of the earlier requests are still in flight), done for a whole list of
arrivals at once. The longest prefix of a list in which every request provably finds its level warm
and no limit is reached is applied at once to the engine's state; the request that breaks it, and a
few after it, go through the engine's own request-by-request loop. So the result is the same
simulation (the same model, the same distributions), at numpy's speed between events.

Run as a child process (`python -m lit.fastsim < job.json > outcome.json`) so that the CLI itself
never imports numpy; `lit plan` falls back to the pure-Python engine where numpy is not installed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np
import numpy.typing as npt

from .simulate import PROGRESS, Bucket, Engine, Figures, Limits, Outcome, Traffic

Array = npt.NDArray[np.float64]
SLOW_STEP = 64  # arrivals handed to the request-by-request loop after one that breaks a prefix
MAX_PREFIX = 1 << 16  # arrivals tried at once


def _warm_prefix(engine: Engine, a: Array, rng: np.random.Generator, warm: Array) -> int:
    """Apply the longest prefix of arrivals `a` that needs no new environment and meets every
    limit; return its length."""
    lim = engine.limits
    m = len(a)
    engine.advance(float(a[0]))
    carried = np.sort(np.asarray(engine.busy, dtype=np.float64))
    n0 = len(carried)
    d = warm[rng.integers(0, len(warm), m)]
    # every completion, in order (nearly sorted already, which timsort, numpy's "stable", is fast on)
    done = np.sort(np.concatenate((carried, a + d)), kind="stable")
    before = np.searchsorted(a, done, "right")  # how many arrivals precede each completion
    ended = np.cumsum(np.bincount(before, minlength=m + 1))[:m]  # completions before each arrival
    n = n0 + np.arange(1, m + 1) - ended  # in flight once each has arrived
    # The levels that are surely alive throughout: those busy at the start (vacated later, so within
    # the reclaim time of any arrival here), provisioned ones, and idle ones vacated recently enough.
    horizon = a[-1] - lim.idle_reclaim_s
    alive = max(n0, lim.provisioned)
    vacated = engine.vacated
    while alive < len(vacated) and vacated[alive] > horizon:
        alive += 1
    # The rate limit's token bucket: before request i it holds min(start + x_i - x_0, cap + x_i - max x_j<=i)
    # with x_i = rate * a_i - i (every earlier request took a token); each request needs one.
    rate = float(lim.rps_per_concurrency * lim.concurrency)
    x = rate * (a - engine.token_time) - np.arange(m)
    tokens = np.minimum(engine.tokens + x, rate + x - np.maximum.accumulate(x))
    ok = (n <= min(alive, lim.concurrency)) & (tokens >= 1.0)
    k = m if ok.all() else int(np.argmin(ok))
    if k == 0:
        return 0
    cut = int(np.searchsorted(done, a[k - 1], "right"))  # the completions before the last arrival applied
    if k < m:
        a, d, n = a[:k], d[:k], n[:k]
        own = a + d
        engine.busy = np.sort(np.concatenate((carried[carried > a[-1]], own[own > a[-1]]))).tolist()
    else:
        engine.busy = done[cut:].tolist()  # sorted, so a heap
    if cut:  # each level's last vacating: concurrency just after each completion; the last one per level wins
        after = n0 + before[:cut] - np.arange(1, cut + 1)
        last = np.full(int(after.max()) + 1, -np.inf)
        last[after] = done[:cut]  # repeated levels: numpy assigns in order, so the latest time stays
        for level in np.flatnonzero(last > -np.inf).tolist():
            if level >= lim.provisioned:
                vacated[level] = float(last[level])
    # each level's busy time: the times it was vacated less the times it was taken
    size = len(engine.level_busy_s)
    busy_time = np.bincount(n, weights=a, minlength=size) * -1.0
    if cut:
        busy_time += np.bincount(after + 1, weights=done[:cut], minlength=size)
    for level in np.flatnonzero(busy_time).tolist():
        engine.level_busy_s[level] += float(busy_time[level])
    engine.requests += k
    engine.warm_count += k
    engine.busy_s += float(d.sum())
    engine.peak = max(engine.peak, int(n.max()))
    engine.tokens, engine.token_time = float(tokens[k - 1]) - 1.0, float(a[-1])
    index = np.floor(a / engine.bucket_s).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    peaks = np.maximum.reduceat(n, starts)
    ends = np.r_[starts[1:], k]
    busy = np.add.reduceat(d, starts)
    for s, e, p, b in zip(starts.tolist(), ends.tolist(), peaks.tolist(), busy.tolist()):
        bucket: Bucket = engine.next_bucket(float(a[s]))
        bucket.requests += e - s
        bucket.peak = max(bucket.peak, p)
        bucket.busy_s += b
    return k


def arrivals(traffic: Traffic, rng: np.random.Generator, chunk: int = 1 << 18) -> Iterator[Array]:
    """`Traffic.arrivals`, drawn by numpy: a Poisson process at each step's rate."""
    for start, rate, stop in traffic.spans():
        t = start
        while True:
            n = min(chunk, int((stop - t) * rate * 1.02) + 16)
            times = t + np.cumsum(rng.exponential(1.0 / rate, n))
            if times[-1] < stop:
                yield times
                t = float(times[-1])
                continue
            cut = int(np.searchsorted(times, stop, "left"))
            if cut:
                yield times[:cut]
            break


def run(figures: Figures, limits: Limits, traffic: Traffic, seed: int = 0, report: bool = False) -> Outcome:
    """The simulation; with `report`, a PROGRESS line on stderr (the requests simulated) every half second."""
    import time

    engine = Engine(figures, limits, traffic.end, seed + 1)
    simulated, said = 0, time.monotonic()
    rng = np.random.default_rng(seed + 2)
    warm = np.asarray(figures.warm_ms, dtype=np.float64) / 1000
    size = MAX_PREFIX
    span = limits.idle_reclaim_s / 4  # a prefix shorter than the reclaim time: levels busy at its start stay alive
    for a in arrivals(traffic, np.random.default_rng(seed)):
        i = 0
        while i < len(a):
            stop = min(int(np.searchsorted(a, a[i] + span, "left")), i + size)
            stop = max(stop, i + 1)
            k = _warm_prefix(engine, a[i:stop], rng, warm)
            i += k
            if i < stop:  # a request there needs a new environment or meets a limit: one by one
                broken = a[i : i + SLOW_STEP].tolist()
                engine.serve(broken)
                i += len(broken)
                size = SLOW_STEP if k < size // 2 else size  # events come in clusters: look ahead less
            else:
                size = min(size * 4, MAX_PREFIX)
        simulated += len(a)
        if report and time.monotonic() - said > 0.5:
            sys.stderr.write(f"{PROGRESS}{simulated}\n")
            sys.stderr.flush()
            said = time.monotonic()
    if report:
        sys.stderr.write(f"{PROGRESS}{simulated}\n")
    return engine.outcome()


def main() -> None:
    job = json.load(sys.stdin)
    figures = Figures.from_dict(job["figures"])
    limits = Limits(**job["limits"])
    traffic = Traffic(tuple((float(s), float(r)) for s, r in job["traffic"]["steps"]), float(job["traffic"]["end"]))
    json.dump(asdict(run(figures, limits, traffic, job.get("seed", 0), bool(job.get("progress")))), sys.stdout)


if __name__ == "__main__":
    main()
