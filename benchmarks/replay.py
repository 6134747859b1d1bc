"""Benchmark: `lit plan`'s simulation against reality at small scale.

    .venv/bin/python benchmarks/replay.py [--cycles 4] [--reclaim 15] [--instances 3] [--memory 1024]

1. `lit bench images/digits` at --memory measures the figures the simulation uses (warm samples and
   cold starts); `lit run` starts its containers before traffic, so a cold start here is the
   runtime's init and the first request (the bench's first answer), without the container start.
2. A profile of --cycles cycles of 0 -> 8 -> 2 requests per second (30 s at 8, 30 s at 2, 25 s at
   0) is drawn once (Poisson arrivals, seeded) and replayed open-loop against `lit run --concurrency
   N --idle-reclaim R`: each request leaves at its own time on its own thread. Measured: the
   requests in flight (peak and time average, from the client's send and answer times), cold starts
   (the runtime's init records in the instances' logs), 429s, and latency percentiles.
3. The simulation is run on the same arrival times, limits (concurrency N, reclaim R) and figures,
   once per seed over --seeds seeds (it draws durations): the mean and range of each figure.

Prints both side by side and the cold-start ratio (the issue asks for it within 10%); writes
benchmarks/results/replay.json; removes its containers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proxy import DIGITS, PATH, body, free_port, lit  # noqa: E402

from lit import plan, simulate  # noqa: E402

CYCLE = ((0.0, 8.0), (30.0, 2.0), (60.0, 0.0))
CYCLE_S = 85.0


def profile(cycles: int) -> simulate.Traffic:
    steps = tuple((c * CYCLE_S + start, rate) for c in range(cycles) for start, rate in CYCLE)
    return simulate.Traffic(steps, cycles * CYCLE_S)


def replay(port: int, times: list[float], payload: bytes) -> list[tuple[float, float, int]]:
    """Send one request at each time (seconds from now), each on its own thread and connection;
    (sent, answered, status) per request, in seconds from the start."""
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def one(at: float) -> None:
        delay = start + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter() - start
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("POST", PATH, payload, {"content-type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            conn.close()
        except OSError:
            status = 0
        with lock:
            results.append((sent, time.perf_counter() - start, status))

    threads = []
    for at in times:  # threads start just before their time, so a few hundred exist at once at most
        while start + at - time.perf_counter() > 2.0:
            time.sleep(0.5)
        thread = threading.Thread(target=one, args=(at,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return sorted(results)


def in_flight(intervals: list[tuple[float, float]], end: float) -> tuple[int, float]:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    n = peak = 0
    area, last = 0.0, 0.0
    for t, step in events:
        area += n * (t - last)
        last = t
        n += step
        peak = max(peak, n)
    return peak, area / end


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--reclaim", type=float, default=15.0)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--memory", type=int, default=1024)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    lit("build", str(DIGITS))
    print(f"measuring the figures: lit bench --memory {args.memory}", flush=True)
    lit("bench", str(DIGITS), "--memory", str(args.memory), "--cold", "5", "--warm", "200", "--json")
    _, (figures,) = plan.read_figures(DIGITS / ".lit" / "bench.json")
    bench = json.loads((DIGITS / ".lit" / "bench.json").read_text())["results"][0]
    first = tuple(c["first_answer_ms"] for c in bench["colds"])
    figures = simulate.Figures(figures.memory, figures.warm_ms, figures.billed_ms, first, first)

    traffic = profile(args.cycles)
    times = [t for chunk in traffic.arrivals(random.Random(args.seed)) for t in chunk]
    payload = body()

    port = free_port()
    reclaim = f"{args.reclaim:g}s"
    print(
        f"replaying {len(times)} requests over {traffic.end:g} s against lit run --concurrency "
        f"{args.instances} --idle-reclaim {reclaim}",
        flush=True,
    )
    lit(
        "run",
        str(DIGITS),
        "--port",
        str(port),
        "--concurrency",
        str(args.instances),
        "--memory",
        str(args.memory),
        "--idle-reclaim",
        reclaim,
    )
    try:
        answers = replay(port, times, payload)
        time.sleep(1.0)
        ids = subprocess.run(
            ["docker", "ps", "-q", "--filter", "label=lit.run=digits", "--filter", "label=lit.role=instance"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        inits = reclaims = 0
        for cid in ids:
            logs = subprocess.run(["docker", "logs", cid], capture_output=True, text=True).stdout
            inits += sum(
                1 for line in logs.splitlines() if line.startswith("{") and '"event":"init"' in line.replace(" ", "")
            )
            reclaims += logs.count('"event": "reclaimed"')
    finally:
        lit("stop", str(DIGITS))

    served = [(s, e) for s, e, status in answers if status == 200]
    measured_peak, measured_mean = in_flight(served, traffic.end)
    latencies = [(e - s) * 1000 for s, e in served]
    measured = {
        "requests": len(answers),
        "served": len(served),
        "throttled": sum(1 for *_, status in answers if status == 429),
        "failed": sum(1 for *_, status in answers if status not in (200, 429)),
        "cold": inits,
        "reclaimed": reclaims,
        "peak_concurrency": measured_peak,
        "mean_concurrency": round(measured_mean, 4),
        "p50_ms": round(pct(latencies, 0.5), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
    }

    limits = simulate.Limits(concurrency=args.instances, idle_reclaim_s=args.reclaim)
    runs = []
    for seed in range(args.seeds):
        engine = simulate.Engine(figures, limits, traffic.end, seed)
        engine.serve(times)
        out = engine.outcome()
        p50, p99 = plan.percentiles(out, (0.5, 0.99))
        runs.append(
            {
                "cold": out.cold,
                "throttled": out.throttled,
                "peak_concurrency": out.peak_concurrency,
                "mean_concurrency": out.mean_concurrency,
                "p50_ms": p50,
                "p99_ms": p99,
            }
        )
    predicted = {
        k: {
            "mean": round(statistics.fmean(r[k] for r in runs), 3),
            "min": min(r[k] for r in runs),
            "max": max(r[k] for r in runs),
        }
        for k in runs[0]
    }
    ratio = measured["cold"] / predicted["cold"]["mean"] if predicted["cold"]["mean"] else float("nan")
    print(f"\n{'':18}{'measured':>10}  {'simulated (mean, min-max over ' + str(args.seeds) + ' seeds)'}")
    for key in ("cold", "throttled", "peak_concurrency", "mean_concurrency", "p50_ms", "p99_ms"):
        p = predicted[key]
        print(f"{key:18}{measured[key]:>10}  {p['mean']:>10}  {p['min']}-{p['max']}")
    print(
        f"\ncold starts, measured / simulated: {ratio:.3f}; requests {measured['requests']}, "
        f"failed {measured['failed']}, reclaims seen {measured['reclaimed']}"
    )
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "replay.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "figures": {"warm_p50_ms": statistics.median(figures.warm_ms), "cold_ms": first},
                "measured": measured,
                "predicted": predicted,
                "cold_ratio": ratio,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
