"""`lit bench` end to end: two memory sizes of the digits function, measured, priced, plotted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit import bench
from lit.docker import Docker
from tests.e2e.conftest import RUN_ID, lit

pytestmark = pytest.mark.e2e


def test_bench_two_sizes_with_plot(docker: Docker, digits_project: Path, digits_image: str, tmp_path: Path) -> None:
    from tests.conftest import free_port

    png = tmp_path / "bench.png"
    port = free_port()
    args = ["bench", str(digits_project), "--image", digits_image, "--memory", "1024,2048", "--port", str(port)]
    proc = lit(*args, "--cold", "2", "--warm", "30", "--plot", str(png), "--json")
    report = json.loads(proc.stdout)
    assert report["size_mb"] > 100 and sum(layer["size_mb"] for layer in report["layers"]) == pytest.approx(
        report["size_mb"], rel=0.02
    )
    assert [r["memory"] for r in report["results"]] == [1024, 2048]
    for r in report["results"]:
        assert r["error"] == ""
        cold = r["cold"]
        assert cold["container_start_ms"] > 0 and cold["first_answer_ms"] > 0
        parts = cold["imports_ms"] + cold["setup_ms"] + cold["model_load_ms"] + cold["warm_up_ms"]
        assert 0 < parts <= cold["init_ms"] + 1
        assert cold["init_ms"] < cold["first_answer_ms"] + 1  # init happens inside the first request
        assert 0 < r["warm_p50_ms"] <= r["warm_p99_ms"]
        assert r["billed_ms"] >= 1 and 50 < r["max_memory_mb"] <= r["memory"], "the container's peak, within its limit"
        lo, hi = r["warm_p99_ci_ms"]
        assert lo <= r["warm_p99_ms"] <= hi and len(r["warm_samples_ms"]) == 30
        assert r["cost_per_million"] == pytest.approx(bench.cost_per_million(r["billed_ms"], r["memory"], "x86_64"))
    assert report["recommended"] in (1024, 2048) and report["bound_ms"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert docker.containers(f"lit.run=digits-t{RUN_ID}") == [], "bench leaves no container behind"
    saved = json.loads((digits_project / ".lit" / "bench.json").read_text())
    assert saved["results"][0]["warm_samples_ms"] == report["results"][0]["warm_samples_ms"], "kept for planning"

    # the port asked for is the one used; a port in use is refused before anything starts
    import socket

    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the bench's connections may be in TIME_WAIT
        busy.bind(("127.0.0.1", port))
        busy.listen()
        proc = lit(*args, "--cold", "1", "--warm", "10", check=False)
        assert proc.returncode == 1 and f"port {port}" in proc.stderr and "--port" in proc.stderr

    # the text report a person reads
    text = lit(*args, "--cold", "1", "--warm", "10").stdout
    assert "recommended:" in text and "p99 ms" in text


def test_bench_refuses_bad_sizes_and_a_missing_image(digits_project: Path) -> None:
    proc = lit("bench", str(digits_project), "--memory", "512,lots", check=False)
    assert proc.returncode == 2 and "512,1024" in proc.stderr, "a usage error"
    proc = lit("bench", str(digits_project), "--memory", "64", check=False)
    assert proc.returncode == 2 and "128..10240" in proc.stderr
    proc = lit("bench", str(digits_project), "--image", "lit-none:missing", check=False)
    assert proc.returncode == 1 and "lit build" in proc.stderr
