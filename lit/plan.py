"""`lit plan`: what the function would do on Lambda at a traffic profile, from `lit bench`'s figures.

For each memory size benched, Lambda is simulated request by request (`lit.simulate`): how many
environments run, which requests meet a cold start, which are throttled, the latency percentiles
with cold starts included, and the monthly cost at the architecture's prices (`lit.prices`). Then
the cheapest size within a p99 target, and whether provisioned concurrency would pay for itself.
With SnapStart, a cold start is a restore from the version's snapshot (RESTORE_MS, or --restore-ms)
and the request, instead of a container start, the init and the request; the snapshot's cache and
each restore are priced, and provisioned concurrency (which Lambda refuses with SnapStart) is not.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import prices, progress, units
from .errors import LitError
from .project import Function as FunctionSettings
from .simulate import PROGRESS, Figures, Limits, Outcome, Traffic
from .simulate import run as run_python

IDLE_RECLAIM_S = 600.0
IDLE_RECLAIM_SOURCE = (
    "AWS states no fixed time (environments are kept for a non-deterministic period); instances were "
    "observed to live 10 minutes after their last request (mikhail.io, 2019)"
)
ACCOUNT_LIMIT = 1000  # the default concurrency quota of an AWS account, per region
RESTORE_MS = 500.0
RESTORE_SOURCE = (
    "AWS states SnapStart restores Python functions in 'as low as sub-second' (AWS News Blog, 2024-11-18, "
    "SnapStart for Python and .NET); no restore can be measured here (`lit bench` runs no snapshots), so "
    "500 ms, mid-way: pass --restore-ms with the Restore Duration of your function's REPORT lines"
)
# provisioned concurrency costs less once its environments are busy more than this share of the time
PROVISIONED_BREAK_EVEN = prices.PROVISIONED_GB_SECOND["x86_64"] / (
    prices.GB_SECOND["x86_64"] - prices.PROVISIONED_DURATION_GB_SECOND["x86_64"]
)


@dataclass
class Cost:
    """USD per month (the profile repeated over prices.HOURS_PER_MONTH hours)."""

    requests: float
    duration: float
    provisioned: float
    snapstart: float = 0.0  # the snapshot's cache (one version, all month) and every restore

    @property
    def total(self) -> float:
        return self.requests + self.duration + self.provisioned + self.snapstart


@dataclass
class Provisioned:
    """What N provisioned environments (kept initialized, never a cold start) would do."""

    environments: int
    cold: int
    p99_ms: float
    cost: Cost


@dataclass
class SizePlan:
    memory: int
    requests: int
    served: int
    cold: int
    cold_share: float
    throttled: int
    throttled_by: dict[str, int]
    peak_concurrency: int
    mean_concurrency: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    cost: Cost
    cost_total: float
    provisioned: int
    pays: Provisioned | None = None  # the provisioned concurrency that costs least, when it beats none
    meets_target: Provisioned | None = None  # the least provisioned concurrency that meets --p99-target
    busiest_level_use: float = 0.0  # share of the time the first environment is busy
    timeline: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Report:
    name: str
    traffic: str
    duration_s: float
    architecture: str
    limits: dict[str, float]
    idle_reclaim_source: str
    prices_as_of: str
    engine: str
    seconds: float
    sizes: list[SizePlan]
    p99_target_ms: float | None
    recommended: int | None
    reason: str
    notes: list[str]
    snapstart: bool = False
    restore_ms: float | None = None  # with SnapStart: what a restore is taken to take
    restore_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for size, plan in zip(data["sizes"], self.sizes):
            size["cost"]["total"] = round(plan.cost.total, 2)
        return data


# ---- inputs


def traffic(rps: float | None, duration: str, path: Path | None) -> tuple[Traffic, str]:
    """The profile to plan for: a steady `rps` for `duration`, or a traffic file; and its description."""
    if (rps is None) == (path is None):
        raise LitError(
            "give the traffic as either --rps N or --traffic FILE",
            "e.g. lit plan DIR --rps 50 --duration 1h",
            exit_code=2,
        )
    if path is not None:
        return read_traffic(path)
    assert rps is not None
    span = units.option(duration, "--duration")
    if not (rps >= 0 and math.isfinite(rps)):
        raise LitError(f"--rps {rps} is not a rate", "pass requests per second, e.g. --rps 50", exit_code=2)
    return Traffic(((0.0, float(rps)),), span), f"{rps:g} req/s steady for {_span(span)}"


def limits(
    function: FunctionSettings,
    account_limit: int,
    reserved: int | None,
    provisioned: int | None,
    idle_reclaim: str,
    snapstart: bool = False,
) -> Limits:
    """The limits to simulate: flags first, then lit.toml's [function] settings, then AWS's defaults."""
    limit = reserved if reserved is not None else function.reserved_concurrency or account_limit
    if limit > account_limit:
        raise LitError(
            f"reserved concurrency {limit} is above the account limit {account_limit}",
            "lower it or pass --account-limit",
            exit_code=2,
        )
    kept = provisioned if provisioned is not None else function.provisioned_concurrency
    if snapstart and kept:
        raise LitError(
            f"SnapStart with provisioned concurrency {kept}: Lambda refuses the two together",
            "plan one of them: --provisioned 0, or --no-snapstart",
            exit_code=2,
        )
    if kept > limit:
        raise LitError(
            f"provisioned concurrency {kept} is above the concurrency limit {limit}", "lower it", exit_code=2
        )
    return Limits(concurrency=limit, provisioned=kept, idle_reclaim_s=units.option(idle_reclaim, "--idle-reclaim"))


def sizes(memory: str | None) -> list[int] | None:
    from . import units

    return units.memory_sizes(memory) if memory else None


def read_traffic(path: Path) -> tuple[Traffic, str]:
    """A CSV of `time,requests_per_second` rows: time in seconds from the start or as H:MM[:SS];
    each rate holds until the next row's time, and the last one for as long as the step before it.
    A first row that is not numbers is a header."""
    if not path.is_file():
        raise LitError(
            f"traffic file {path} does not exist", "pass a CSV of time,requests_per_second rows", exit_code=2
        )
    fix = "each row is time,requests_per_second: e.g. 0,5 or 00:10:00,120 (times increasing, rates >= 0)"
    steps: list[tuple[float, float]] = []
    with path.open(newline="") as f:
        for number, row in enumerate(csv.reader(f), 1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) != 2:
                raise LitError(
                    f"{path}:{number}: expected 2 columns (time, requests per second), found {len(cells)}",
                    fix,
                    exit_code=2,
                )
            when, rate = _clock(cells[0]), _number(cells[1])
            if when is None or rate is None:
                if not steps and (number == 1 or all(_clock(c) is None for c in cells)):
                    continue  # a header
                bad = cells[0] if when is None else cells[1]
                raise LitError(
                    f"{path}:{number}: {bad!r} is not a {'time' if when is None else 'rate'}", fix, exit_code=2
                )
            if rate < 0:
                raise LitError(f"{path}:{number}: a negative rate ({cells[1]})", fix, exit_code=2)
            if steps and when <= steps[-1][0]:
                raise LitError(f"{path}:{number}: time {cells[0]} does not come after the row before", fix, exit_code=2)
            steps.append((when, rate))
    if len(steps) < 2:
        raise LitError(f"{path} has {len(steps)} row(s) of traffic; a profile needs at least 2", fix, exit_code=2)
    end = steps[-1][0] + (steps[-1][0] - steps[-2][0])
    start = steps[0][0]
    shifted = tuple((t - start, r) for t, r in steps)
    peak = max(r for _, r in steps)
    return Traffic(
        shifted, end - start
    ), f"{path.name}: {len(steps)} steps over {_span(end - start)}, peak {peak:g} req/s"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _clock(text: str) -> float | None:
    if ":" not in text:
        return _number(text)
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    h, m, s = (int(p) for p in [*parts, "0"][:3])
    return float(h * 3600 + m * 60 + s) if m < 60 and s < 60 else None


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def read_figures(
    path: Path, memories: list[int] | None = None, restore_ms: float | None = None
) -> tuple[str, list[Figures]]:
    """The architecture and each size's figures from a `lit bench` results file. With `restore_ms`
    (SnapStart) a cold start is that restore and the first request (its first answer less the init),
    and is billed as such, instead of the container start, the init and the request."""
    if not path.is_file():
        raise LitError(f"no bench results at {path}", "run `lit bench DIR` first (or pass --bench FILE)")
    try:
        report = json.loads(path.read_text())
        results = report["results"]
        architecture = report.get("architecture", "x86_64")
    except (ValueError, KeyError, TypeError):
        raise LitError(f"{path} is not a `lit bench` results file", "run `lit bench DIR` again") from None
    if report.get("emulation"):
        raise LitError(
            f"{path} was measured under emulation ({architecture} on another machine): it has no timings to plan from",
            f"run `lit bench DIR` on an {architecture} machine (for arm64: a Graviton instance), then `lit plan`",
        )
    figures = []
    for r in results:
        if r.get("error") or (memories and r["memory"] not in memories):
            continue
        colds = r.get("colds") or ([r["cold"]] if r.get("cold") else [])
        if len(r.get("warm_samples_ms") or []) < 10 or not colds:
            raise LitError(
                f"{path} holds no raw samples for {r['memory']} MB (an older `lit bench`)", "run `lit bench DIR` again"
            )
        if restore_ms is None:
            cold_ms = tuple(c["container_start_ms"] + c["first_answer_ms"] for c in colds)
            billed = tuple(float(math.ceil(c["first_answer_ms"])) for c in colds)  # init is billed, with the request
        else:
            cold_ms = tuple(restore_ms + max(c["first_answer_ms"] - c.get("init_ms", 0.0), 0.0) for c in colds)
            billed = tuple(float(math.ceil(ms)) for ms in cold_ms)
        figures.append(Figures(int(r["memory"]), tuple(r["warm_samples_ms"]), float(r["billed_ms"]), cold_ms, billed))
    if not figures:
        benched = sorted(r["memory"] for r in results if not r.get("error"))
        raise LitError(
            f"{path} has no results for {memories} MB" if memories else f"no memory size ran in {path}",
            f"benched sizes: {benched}; run `lit bench DIR --memory ...`" if benched else "run `lit bench DIR` again",
        )
    if architecture not in prices.GB_SECOND:
        raise LitError(f"{path}: unknown architecture {architecture!r}", "use x86_64 or arm64")
    return architecture, figures


# ---- simulation


def simulate(
    jobs: list[tuple[Figures, Limits]], traffic: Traffic, seed: int, task: progress.Task | None = None
) -> tuple[list[Outcome], str]:
    """Each job simulated; with numpy installed in child processes (numpy never enters the CLI's
    own process), several at once; else in this process, in pure Python. `task` is advanced by the
    requests simulated (a live display asks the children to say how far they are)."""
    tell = task is not None
    task = task or progress.Task()
    if importlib.util.find_spec("numpy") is None:
        return [run_python(f, lim, traffic, seed, task.advance) for f, lim in jobs], "python"
    outcomes: list[Outcome | None] = [None] * len(jobs)
    pending = list(enumerate(jobs))
    running: list[tuple[int, subprocess.Popen[bytes], _Said]] = []
    width = max(1, os.cpu_count() or 1)
    try:
        while pending or running:
            while pending and len(running) < width:
                i, (f, lim) = pending.pop(0)
                job = {
                    "figures": asdict(f),
                    "limits": asdict(lim),
                    "traffic": asdict(traffic),
                    "seed": seed,
                    "progress": tell,
                }
                with tempfile.TemporaryFile() as stdin:
                    stdin.write(json.dumps(job).encode())
                    stdin.seek(0)
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "lit.fastsim"],
                        stdin=stdin,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )
                running.append((i, proc, _Said(proc, task)))
            i, proc, said = running.pop(0)
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.wait()
            err = said.rest()
            if proc.returncode != 0:
                tail = err.strip().splitlines()[-1:] or ["?"]
                raise LitError(f"the simulation failed: {tail[0]}", "run again; if it repeats, report it")
            outcomes[i] = Outcome.from_dict(json.loads(out))
    finally:
        for _, proc, _ in running:
            proc.kill()
            proc.wait()
    return [o for o in outcomes if o is not None], "numpy"


class _Said:
    """A simulation child's stderr, read by a thread as it comes: its progress lines (`PROGRESS N`,
    the requests it has simulated) advance the task, the rest is kept for an error."""

    def __init__(self, proc: subprocess.Popen[bytes], task: progress.Task) -> None:
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc, task), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes], task: progress.Task) -> None:
        assert proc.stderr is not None
        done = 0
        for raw in proc.stderr:
            line = raw.decode(errors="replace")
            if line.startswith(PROGRESS):
                now = int(line.split()[1])
                task.advance(now - done)
                done = now
            else:
                self.lines.append(line)

    def rest(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


# ---- figures from an outcome


def percentiles(outcome: Outcome, qs: tuple[float, ...], extra_warm: int = 0, cold_kept: float = 1.0) -> list[float]:
    """Latency percentiles over every served request, cold starts included: warm requests follow the
    measured warm distribution, cold ones the measured cold starts. `extra_warm` cold starts become
    warm requests and `cold_kept` of the cold ones remain (for what-ifs)."""
    f = outcome.figures
    warm_weight = (outcome.warm + extra_warm) / len(f.warm_ms)
    weighted = [(ms, warm_weight) for ms in f.warm_ms]
    weighted += [(ms, count * cold_kept) for ms, count in zip(f.cold_ms, outcome.cold_counts) if count]
    weighted.sort()
    total = sum(w for _, w in weighted)
    answers = []
    for q in qs:
        goal, running = q * total, 0.0
        value = weighted[-1][0] if weighted else 0.0
        for ms, w in weighted:
            running += w
            if running >= goal - 1e-9:
                value = ms
                break
        answers.append(round(value, 2))
    return answers


def cost(outcome: Outcome, architecture: str, provisioned: int, snapstart: bool = False) -> Cost:
    """The month's cost with `provisioned` environments kept initialized (at least the number
    simulated): the cold starts on their levels become warm requests, and the share of the billed time
    they carry (the time with at least k requests in flight, for k up to `provisioned`) is billed at
    the provisioned duration price. With SnapStart, every cold start is a restore, and the version's
    snapshot is cached all month."""
    f = outcome.figures
    gb = f.memory / 1024
    month = prices.HOURS_PER_MONTH * 3600 / outcome.duration_s
    drawn = sum(outcome.cold_counts)
    cold_billed = (
        sum(ms * n for ms, n in zip(f.cold_billed_ms, outcome.cold_counts)) / drawn if drawn else f.cold_billed_ms[0]
    )
    removed = sum(outcome.level_cold[: provisioned + 1])
    billed_ms = (outcome.warm + removed) * f.billed_ms + (outcome.cold - removed) * cold_billed
    at_least = outcome.level_busy_s  # seconds with >= k in flight
    busy = sum(at_least[1:])
    kept = sum(at_least[1 : provisioned + 1]) / busy if busy else 0.0
    duration = (
        billed_ms * (1 - kept) / 1000 * gb * prices.GB_SECOND[architecture]
        + billed_ms * kept / 1000 * gb * prices.PROVISIONED_DURATION_GB_SECOND[architecture]
    )
    snapshot = 0.0
    if snapstart:
        snapshot = prices.snapstart_restores(f.memory, outcome.cold * month) + prices.snapstart_cache(
            f.memory, prices.HOURS_PER_MONTH * 3600
        )
    return Cost(
        round(outcome.served * prices.REQUEST * month, 2),
        round(duration * month, 2),
        round(prices.provisioned_monthly(provisioned, f.memory, architecture), 2),
        round(snapshot, 2),
    )


def what_if(outcome: Outcome, architecture: str, environments: int) -> Provisioned:
    removed = sum(outcome.level_cold[: environments + 1])
    kept = (outcome.cold - removed) / outcome.cold if outcome.cold else 1.0
    p99 = percentiles(outcome, (0.99,), extra_warm=removed, cold_kept=kept)[0]
    return Provisioned(environments, outcome.cold - removed, p99, cost(outcome, architecture, environments))


def size_plan(outcome: Outcome, architecture: str, target_ms: float | None, snapstart: bool = False) -> SizePlan:
    p50, p99, p999 = percentiles(outcome, (0.50, 0.99, 0.999))
    base = outcome.limits.provisioned
    now = cost(outcome, architecture, base, snapstart)
    plan = SizePlan(
        memory=outcome.figures.memory,
        requests=outcome.requests,
        served=outcome.served,
        cold=outcome.cold,
        cold_share=round(outcome.cold / outcome.served, 6) if outcome.served else 0.0,
        throttled=outcome.throttled,
        throttled_by={
            "concurrency": outcome.throttled_concurrency,
            "scaling": outcome.throttled_scaling,
            "rate": outcome.throttled_rate,
        },
        peak_concurrency=outcome.peak_concurrency,
        mean_concurrency=round(outcome.mean_concurrency, 2),
        p50_ms=p50,
        p99_ms=p99,
        p999_ms=p999,
        cost=now,
        cost_total=round(now.total, 2),
        provisioned=base,
        timeline=[asdict(b) for b in outcome.timeline],
    )
    levels = range(base + 1, min(outcome.peak_concurrency, outcome.limits.concurrency) + 1)
    if levels and not snapstart:  # Lambda refuses provisioned concurrency with SnapStart
        cheapest = min(levels, key=lambda n: cost(outcome, architecture, n).total)
        if cost(outcome, architecture, cheapest).total < now.total:
            plan.pays = what_if(outcome, architecture, cheapest)
        if target_ms is not None and p99 > target_ms:
            for n in levels:  # the p99 only falls as environments are added
                option = what_if(outcome, architecture, n)
                if option.p99_ms <= target_ms:
                    plan.meets_target = option
                    break
    return plan


def recommend(plans: list[SizePlan], target_ms: float | None) -> tuple[int | None, str]:
    if target_ms is None:
        best = min(plans, key=lambda p: (p.cost_total, p.p99_ms))
        return (
            best.memory,
            f"the cheapest (${best.cost_total:,.2f} a month, p99 {best.p99_ms:g} ms); pass --p99-target MS to bound latency",
        )
    within = [p for p in plans if p.p99_ms <= target_ms]
    if within:
        best = min(within, key=lambda p: (p.cost_total, p.p99_ms))
        return (
            best.memory,
            f"the cheapest with p99 <= {target_ms:g} ms (${best.cost_total:,.2f} a month, p99 {best.p99_ms:g} ms)",
        )
    reach = [p for p in plans if p.meets_target]
    if reach:
        best = min(reach, key=lambda p: p.meets_target.cost.total if p.meets_target else 0.0)
        option = best.meets_target
        assert option is not None
        return best.memory, (
            f"no size meets p99 <= {target_ms:g} ms on demand; {best.memory} MB with {option.environments} provisioned "
            f"environments does, for ${option.cost.total:,.2f} a month (p99 {option.p99_ms:g} ms)"
        )
    return None, f"no size meets p99 <= {target_ms:g} ms, even with provisioned concurrency"


def notes(plans: list[SizePlan], limits: Limits) -> list[str]:
    said = []
    worst = max(plans, key=lambda p: p.throttled)
    by = worst.throttled_by
    if by["concurrency"]:
        said.append(
            f"{by['concurrency']:,} requests ({by['concurrency'] / worst.requests:.2%}) at {worst.memory} MB find all "
            f"{limits.concurrency:,} concurrent executions busy: on Lambda they get 429 TooManyRequestsException "
            "(synchronous callers see the error; asynchronous events are retried for up to 6 hours). "
            "Raise the account's concurrency quota (Service Quotas) or the reserved concurrency, or shorten the requests."
        )
    if by["scaling"]:
        said.append(
            f"{by['scaling']:,} requests at {worst.memory} MB are throttled (429) while Lambda scales: it adds at most "
            f"{limits.burst:,} environments every {limits.burst_window_s:g} s per function. Ramp the traffic up, "
            "or keep environments ready with provisioned concurrency."
        )
    if by["rate"]:
        said.append(
            f"{by['rate']:,} requests at {worst.memory} MB exceed {limits.rps_per_concurrency} x the concurrency limit "
            f"per second ({limits.rps_per_concurrency * limits.concurrency:,} req/s): Lambda throttles them (429)."
        )
    first = min(plans, key=lambda p: p.memory)
    settle = max(60.0, first.timeline[1]["start"] if len(first.timeline) > 1 else 60.0)
    later = max((b["peak"] for b in first.timeline if b["start"] >= settle), default=first.peak_concurrency)
    if later < first.peak_concurrency / 2:
        said.append(
            f"the peak concurrency ({first.peak_concurrency:,} at {first.memory} MB) is at the start: the profile "
            f"starts with no environment, so each request arriving during the first cold start starts one more. "
            f"After {settle:g} s the peak is {later:,}. If your launch ramps up, give --traffic a ramp."
        )
    return said


def plan(
    name: str,
    traffic: Traffic,
    description: str,
    architecture: str,
    figures: list[Figures],
    limits: Limits,
    target_ms: float | None = None,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
    restore_ms: float | None = None,
) -> Report:
    """The plan; `restore_ms` (SnapStart: the figures' cold starts are restores, see read_figures)
    prices SnapStart's cache and restores."""
    expected = traffic.requests
    log(f"simulating {expected:,.0f} requests at {len(figures)} memory size(s)")
    t0 = time.perf_counter()
    with progress.task(log, "simulating", round(expected * len(figures)), "requests") as task:
        outcomes, engine = simulate([(f, limits) for f in figures], traffic, seed, task if progress.live(log) else None)
    seconds = round(time.perf_counter() - t0, 2)
    snapstart = restore_ms is not None
    plans = [size_plan(o, architecture, target_ms, snapstart) for o in outcomes]
    recommended, reason = recommend(plans, target_ms)
    said = notes(plans, limits)
    if engine == "python" and expected > 5_000_000:
        said.append("numpy is not installed, so the simulation ran in pure Python: pip install 'lit-lambda[plan]'")
    return Report(
        name,
        description,
        traffic.end,
        architecture,
        {k: float(v) for k, v in asdict(limits).items()},
        IDLE_RECLAIM_SOURCE if limits.idle_reclaim_s == IDLE_RECLAIM_S else "set with --idle-reclaim",
        prices.PRICES_AS_OF,
        engine,
        seconds,
        plans,
        target_ms,
        recommended,
        reason,
        said,
        snapstart,
        restore_ms,
        (RESTORE_SOURCE if restore_ms == RESTORE_MS else "set with --restore-ms") if snapstart else "",
    )


def text(report: Report) -> str:
    lim = report.limits
    lines = [
        f"lit plan {report.name}: {report.traffic}",
        f"  concurrency limit {lim['concurrency']:,.0f}, provisioned {lim['provisioned']:.0f}, "
        f"new environments <= {lim['burst']:,.0f} per {lim['burst_window_s']:g} s, "
        f"<= {lim['rps_per_concurrency'] * lim['concurrency']:,.0f} req/s",
        f"  idle environments reclaimed after {_span(lim['idle_reclaim_s'])}: {report.idle_reclaim_source}",
        f"  prices: {report.architecture}, us-east-1 list prices as of {report.prices_as_of}; "
        f"a month is the profile repeated over {prices.HOURS_PER_MONTH} h",
    ]
    if report.snapstart:
        lines += [
            f"  SnapStart: a cold start is a restore of {report.restore_ms:g} ms and the request, billed as such "
            f"({report.restore_source}); the snapshot's cache (${prices.SNAPSTART_CACHE_GB_SECOND} per GB-second, "
            f"one version all month) and ${prices.SNAPSTART_RESTORE_GB} per GB restored are in $ snapstart",
        ]
    extra = "  $ snapstart" if report.snapstart else ""
    lines += [
        "",
        "memory  peak conc  mean conc     cold  cold %  p50 ms  p99 ms  p99.9 ms  throttled  $ requests  $ duration  "
        f"$ provisioned{extra}   $ month",
    ]
    for p in report.sizes:
        lines.append(
            f"{p.memory:>6}  {p.peak_concurrency:>9,}  {p.mean_concurrency:>9.2f}  {p.cold:>7,}  {p.cold_share:>6.2%}"
            f"  {p.p50_ms:>6.1f}  {p.p99_ms:>6.1f}  {p.p999_ms:>8.1f}  {p.throttled:>9,}  {p.cost.requests:>10,.2f}"
            f"  {p.cost.duration:>10,.2f}  {p.cost.provisioned:>13,.2f}"
            + (f"  {p.cost.snapstart:>11,.2f}" if report.snapstart else "")
            + f"  {p.cost_total:>8,.2f}"
        )
    if report.recommended:
        lines.append(f"\nrecommended: {report.recommended} MB, {report.reason}")
    else:
        lines.append(f"\nno recommendation: {report.reason}")
    for p in report.sizes:
        if p.memory != report.recommended and len(report.sizes) > 1:
            continue
        if p.pays:
            o = p.pays
            lines.append(
                f"provisioned concurrency at {p.memory} MB: {o.environments} environments pay for themselves "
                f"(${o.cost.total:,.2f} a month instead of ${p.cost_total:,.2f}; cold starts {p.cold:,} -> {o.cold:,}, "
                f"p99 {p.p99_ms:g} -> {o.p99_ms:g} ms)"
            )
        elif p.peak_concurrency > p.provisioned and not report.snapstart:
            lines.append(
                f"provisioned concurrency at {p.memory} MB: none pays for itself here (an environment kept initialized "
                f"costs less only when busy more than {PROVISIONED_BREAK_EVEN:.0%} of the time)"
            )
        if p.meets_target:
            o = p.meets_target
            lines.append(
                f"  to meet p99 <= {report.p99_target_ms:g} ms: {o.environments} provisioned environments, "
                f"${o.cost.total:,.2f} a month, p99 {o.p99_ms:g} ms"
            )
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"simulated {report.sizes[0].requests:,} requests per size in {report.seconds:g} s ({report.engine})")
    return "\n".join(lines)


def plot(report: Report, path: Path) -> None:
    """The recommended size's timeline as a PNG."""
    from . import plot as drawing

    drawing.render({"kind": "plan", **report.to_dict()}, path)
