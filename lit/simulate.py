"""Lambda's scaling, simulated request by request: the engine behind `lit plan`.

The model, as AWS documents it where it does, and as observed where it does not:
- an execution environment serves one request at a time;
- a request that finds no idle environment starts one (a cold start, drawn from the measured cold
  starts), unless a limit says no, and is then throttled (429);
- an idle request goes to the idle environment that finished last (Lambda does not document its
  routing; reusing the warmest is what keeps the fewest environments alive, and what `lit run`'s
  endpoint does), and an environment idle for `idle_reclaim_s` is reclaimed;
- limits: the function's concurrency (reserved, else the account's), new environments per
  `burst_window_s` (1,000 per 10 s per function), and requests per second (10 x the concurrency,
  as a token bucket holding one second's worth);
- provisioned environments are initialized before traffic and never reclaimed.

Under most-recent-first routing the environments form levels: level k is busy whenever k or more
requests are in flight, and when idle it was vacated the last time concurrency fell below k. So the
state is the in-flight completions (a heap) and, per level, when it was last vacated: a level that
has been idle longer than the reclaim time is gone, and every level above it too. That is exact for
the model above and costs O(log n) per request, with no per-environment bookkeeping.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import mul
from typing import Any

INF = float("inf")
CHUNK = 1 << 16  # arrivals generated per list


@dataclass(frozen=True)
class Figures:
    """What `lit bench` measured at one memory size, in milliseconds."""

    memory: int
    warm_ms: tuple[float, ...]  # warm request latencies, as a caller sees them
    billed_ms: float  # mean billed duration of a warm request
    cold_ms: tuple[float, ...]  # a cold request's latency: environment start, init and the request
    cold_billed_ms: tuple[float, ...]  # what each cold request is billed: init and the request

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figures:
        return cls(
            int(data["memory"]),
            tuple(data["warm_ms"]),
            float(data["billed_ms"]),
            tuple(data["cold_ms"]),
            tuple(data["cold_billed_ms"]),
        )

    def __post_init__(self) -> None:
        if not self.warm_ms or not self.cold_ms or len(self.cold_ms) != len(self.cold_billed_ms):
            raise ValueError("figures need warm samples and paired cold samples")


@dataclass(frozen=True)
class Limits:
    concurrency: int = 1000  # the function's: reserved concurrency, else the account's limit
    provisioned: int = 0
    idle_reclaim_s: float = 600.0
    burst: int = 1000  # new environments ...
    burst_window_s: float = 10.0  # ... per this many seconds
    rps_per_concurrency: int = 10  # requests per second, per unit of concurrency

    def __post_init__(self) -> None:
        if self.provisioned > self.concurrency:
            raise ValueError(f"provisioned concurrency {self.provisioned} is above the limit {self.concurrency}")


@dataclass(frozen=True)
class Traffic:
    """A piecewise-constant rate: `steps` are (start second, requests per second), ending at `end`."""

    steps: tuple[tuple[float, float], ...]
    end: float

    @property
    def requests(self) -> float:
        """The expected number of requests."""
        return sum((stop - start) * rate for start, rate, stop in self.spans())

    def spans(self) -> Iterator[tuple[float, float, float]]:
        """(start, rate, stop) of each step with requests."""
        bounds = [s for s, _ in self.steps[1:]] + [self.end]
        for (start, rate), stop in zip(self.steps, bounds):
            if rate > 0 and stop > start:
                yield start, rate, stop

    def arrivals(self, rng: random.Random) -> Iterator[list[float]]:
        """A Poisson process at each step's rate, in lists of increasing times (seconds)."""
        rand = rng.random
        for start, rate, stop in self.spans():
            t = start
            while True:
                n = min(CHUNK, int((stop - t) * rate * 1.02) + 16)
                gaps = map(mul, map(math.log, [1.0 - rand() for _ in range(n)]), repeat(-1.0 / rate))
                times = list(accumulate(gaps, initial=t))[1:]
                if times[-1] < stop:
                    yield times
                    t = times[-1]
                    continue
                cut = bisect_left(times, stop)
                if cut:
                    yield times[:cut]
                break  # memoryless: the next step starts afresh at its own start


@dataclass
class Bucket:
    """The timeline, one entry per `bucket_s`."""

    start: float
    requests: int = 0
    cold: int = 0
    throttled: int = 0
    peak: int = 0
    busy_s: float = 0.0  # environment-seconds busy (concurrency integrated over the bucket)


@dataclass
class Outcome:
    figures: Figures
    limits: Limits
    duration_s: float
    requests: int = 0
    warm: int = 0
    cold: int = 0
    throttled_concurrency: int = 0  # the concurrency limit was reached
    throttled_scaling: int = 0  # a new environment was needed beyond the burst limit
    throttled_rate: int = 0  # over 10 x concurrency requests per second
    peak_concurrency: int = 0
    busy_s: float = 0.0
    cold_counts: list[int] = field(default_factory=list)  # per cold sample, how often it was drawn
    level_busy_s: list[float] = field(default_factory=list)  # per level k: seconds with k or more in flight
    level_cold: list[int] = field(default_factory=list)  # cold starts per level
    timeline: list[Bucket] = field(default_factory=list)
    bucket_s: float = 1.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """The inverse of `dataclasses.asdict` (how a child process hands an outcome back)."""
        fields = dict(data)
        fields["figures"] = Figures.from_dict(data["figures"])
        fields["limits"] = Limits(**data["limits"])
        fields["timeline"] = [Bucket(**b) for b in data["timeline"]]
        return cls(**fields)

    @property
    def throttled(self) -> int:
        return self.throttled_concurrency + self.throttled_scaling + self.throttled_rate

    @property
    def served(self) -> int:
        return self.warm + self.cold

    @property
    def mean_concurrency(self) -> float:
        return self.busy_s / self.duration_s if self.duration_s else 0.0


class Engine:
    """The simulation's state, advanced one list of arrivals at a time (see the module's docstring)."""

    def __init__(self, figures: Figures, limits: Limits, duration_s: float, seed: int = 0, bucket_s: float = 0.0):
        self.figures, self.limits, self.duration_s = figures, limits, duration_s
        self.rng = random.Random(seed)
        self.warm = [ms / 1000 for ms in figures.warm_ms]
        self.cold = [ms / 1000 for ms in figures.cold_ms]
        self.bucket_s = bucket_s or max(1.0, duration_s / 600)
        self.busy: list[float] = []  # completion times of the requests in flight (a heap)
        self.vacated: list[float] = [INF] * limits.provisioned  # per level, when last vacated (INF: kept)
        # per level, seconds busy: the times it was vacated less the times it was taken (exact once
        # every request has ended)
        self.level_busy_s = [0.0] * (limits.provisioned + 1)
        self.level_cold = [0] * (limits.provisioned + 1)
        self.cold_counts = [0] * len(self.cold)
        self.starts: deque[float] = deque()  # recent environment starts, for the burst limit
        self.tokens = float(limits.rps_per_concurrency * limits.concurrency)  # the rate limit's bucket, full
        self.token_time = 0.0
        self.timeline: list[Bucket] = []
        self.bucket = Bucket(0.0)
        self.bucket_end = self.bucket_s
        self.requests = self.warm_count = self.cold_count = 0
        self.throttled = [0, 0, 0]  # concurrency, scaling, rate
        self.peak = 0
        self.busy_s = 0.0

    def next_bucket(self, a: float) -> Bucket:
        """The timeline's bucket for time `a` (not before the current one)."""
        while a >= self.bucket_end:
            self.timeline.append(self.bucket)
            self.bucket = Bucket(self.bucket_end)
            self.bucket_end += self.bucket_s
        return self.bucket

    def advance(self, t: float) -> None:
        """End the requests done by `t`."""
        busy, vacated, provisioned, level_busy = self.busy, self.vacated, self.limits.provisioned, self.level_busy_s
        while busy and busy[0] <= t:
            level_busy[len(busy)] += busy[0]
            done = heapq.heappop(busy)
            if len(busy) >= provisioned:
                vacated[len(busy)] = done

    def serve(self, arrivals: list[float]) -> None:
        """Request by request."""
        rand = self.rng.random
        warm, cold = self.warm, self.cold
        nwarm, ncold = len(warm), len(cold)
        lim = self.limits
        provisioned, limit, reclaim = lim.provisioned, lim.concurrency, lim.idle_reclaim_s
        burst, window, rate_cap = lim.burst, lim.burst_window_s, lim.rps_per_concurrency * lim.concurrency
        busy, vacated, starts = self.busy, self.vacated, self.starts
        level_busy, level_cold, cold_counts = self.level_busy_s, self.level_cold, self.cold_counts
        push, pop = heapq.heappush, heapq.heappop
        n = len(busy)
        peak, tokens, token_time = self.peak, self.tokens, self.token_time
        bucket, bucket_end = self.bucket, self.bucket_end
        busy_s = 0.0
        warm_count = cold_count = 0
        throttled_c = throttled_s = throttled_r = 0
        for a in arrivals:
            while busy and busy[0] <= a:
                done = pop(busy)
                level_busy[n] += done
                n -= 1
                if n >= provisioned:
                    vacated[n] = done
            if a >= bucket_end:
                self.bucket = bucket
                bucket = self.next_bucket(a)
                bucket_end = self.bucket_end
            bucket.requests += 1
            tokens += (a - token_time) * rate_cap
            token_time = a
            if tokens > rate_cap:
                tokens = rate_cap
            if tokens < 1.0:
                throttled_r += 1
                bucket.throttled += 1
                continue
            tokens -= 1.0
            if n >= limit:
                throttled_c += 1
                bucket.throttled += 1
                continue
            n += 1
            if n <= len(vacated) and vacated[n - 1] > a - reclaim:
                d = warm[int(rand() * nwarm)]
                warm_count += 1
            else:
                floor = a - window
                while starts and starts[0] <= floor:
                    starts.popleft()
                if len(starts) >= burst:
                    n -= 1
                    throttled_s += 1
                    bucket.throttled += 1
                    continue
                starts.append(a)
                del vacated[n - 1 :]  # this level and every one above it were reclaimed
                vacated.append(a)  # busy from now; set when vacated
                if n >= len(level_cold):
                    level_busy.append(0.0)
                    level_cold.append(0)
                j = int(rand() * ncold)
                d = cold[j]
                cold_counts[j] += 1
                cold_count += 1
                bucket.cold += 1
                level_cold[n] += 1
            if n > bucket.peak:
                bucket.peak = n
                if n > peak:
                    peak = n
            level_busy[n] -= a
            bucket.busy_s += d
            busy_s += d
            push(busy, a + d)
        self.bucket, self.peak, self.tokens, self.token_time = bucket, peak, tokens, token_time
        self.requests += len(arrivals)
        self.warm_count += warm_count
        self.cold_count += cold_count
        self.busy_s += busy_s
        for i, count in enumerate((throttled_c, throttled_s, throttled_r)):
            self.throttled[i] += count

    def outcome(self) -> Outcome:
        self.advance(INF)  # the requests still in flight run to their end
        self.next_bucket(self.duration_s - 1e-9)
        timeline = [*self.timeline, self.bucket]
        c, s, r = self.throttled
        return Outcome(
            self.figures,
            self.limits,
            self.duration_s,
            requests=self.requests,
            warm=self.warm_count,
            cold=self.cold_count,
            throttled_concurrency=c,
            throttled_scaling=s,
            throttled_rate=r,
            peak_concurrency=self.peak,
            busy_s=self.busy_s,
            cold_counts=self.cold_counts,
            level_busy_s=self.level_busy_s,
            level_cold=self.level_cold,
            timeline=timeline,
            bucket_s=self.bucket_s,
        )


PROGRESS = "lit-progress "  # the line a simulation child writes to stderr: the requests it has simulated so far


def run(
    figures: Figures,
    limits: Limits,
    traffic: Traffic,
    seed: int = 0,
    served: Callable[[int], None] = lambda _: None,
) -> Outcome:
    """Simulate `traffic` in pure Python: Poisson arrivals at its rates, drawn from `seed`.
    `served` hears how many requests each stretch simulated."""
    engine = Engine(figures, limits, traffic.end, seed + 1)
    for arrivals in traffic.arrivals(random.Random(seed)):
        engine.serve(arrivals)
        served(len(arrivals))
    return engine.outcome()
