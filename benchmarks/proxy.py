"""Benchmark: the `lit run --concurrency N` endpoint, keep-alive against a new connection per
request, and throughput as N grows.

    .venv/bin/python benchmarks/proxy.py [--requests 300] [--max-n 4] [--memory 1024]

Runs the digits image (built by `lit build images/digits`) behind the endpoint. (1) One client,
sequential requests: on one keep-alive connection, and with a new connection each time; the
ratio keep-alive / new must be <= 1 (it was ~13 before the endpoint set TCP_NODELAY and wrote each
answer at once: 44 ms against 3.4 ms). (2) N clients on N instances, N = 1..max-n, each client on
its own keep-alive connection: requests per second must grow with N until the CPUs (2 here) are the
limit. Prints min-median-max over --rounds rounds; writes benchmarks/results/proxy.json; removes its
containers.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "images" / "digits"
PATH = "/2015-03-31/functions/function/invocations"


def lit(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "lit", *args], check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body() -> bytes:
    first = sorted((DIGITS / "heldout").glob("*.png"))[0]
    return json.dumps({"image": base64.b64encode(first.read_bytes()).decode()}).encode()


def sequential_ms(port: int, payload: bytes, n: int, keep_alive: bool) -> float:
    """Median milliseconds per request, one client."""
    times = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(n):
        if not keep_alive:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request("POST", PATH, payload)
        resp = conn.getresponse()
        resp.read()
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status == 200, resp.status
        if not keep_alive:
            conn.close()
    conn.close()
    return statistics.median(times)


def throughput(port: int, payload: bytes, clients: int, seconds: float) -> float:
    """Requests per second with `clients` keep-alive clients sending back to back."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop:
            conn.request("POST", PATH, payload)
            resp = conn.getresponse()
            resp.read()
            done[i] += resp.status == 200
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--max-n", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", type=int, default=1024)
    args = parser.parse_args()
    payload = body()
    results: dict[str, object] = {}
    try:
        port = free_port()
        lit("run", str(DIGITS), "--port", str(port), "--concurrency", "2", "--memory", str(args.memory))
        sequential_ms(port, payload, 20, True)  # warm both
        ratios, keep, new = [], [], []
        for _ in range(args.rounds):
            k = sequential_ms(port, payload, args.requests, True)
            n = sequential_ms(port, payload, args.requests, False)
            keep.append(k)
            new.append(n)
            ratios.append(k / n)
        results["keep_alive_ms"], results["new_connection_ms"], results["ratio"] = keep, new, ratios
        print(
            f"keep-alive {min(keep):.2f}-{statistics.median(keep):.2f}-{max(keep):.2f} ms, new connection "
            f"{min(new):.2f}-{statistics.median(new):.2f}-{max(new):.2f} ms, ratio "
            f"{min(ratios):.2f}-{statistics.median(ratios):.2f}-{max(ratios):.2f} (target <= 1)"
        )
        rates: dict[int, list[float]] = {}
        for n in range(1, args.max_n + 1):
            lit("run", str(DIGITS), "--port", str(port), "--concurrency", str(max(n, 2)), "--memory", str(args.memory))
            throughput(port, payload, n, 1.0)  # warm every instance
            rates[n] = [throughput(port, payload, n, args.seconds) for _ in range(args.rounds)]
            r = rates[n]
            print(f"N={n}: {min(r):.0f}-{statistics.median(r):.0f}-{max(r):.0f} requests/s")
        results["requests_per_second"] = rates
    finally:
        subprocess.run([sys.executable, "-m", "lit", "stop", str(DIGITS)], capture_output=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "proxy.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
