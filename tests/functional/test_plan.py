"""`lit plan` as users run it: inputs, the figures it reports worked out by hand, and clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lit import plan, prices
from tests.conftest import assert_clean_failure, lit

pytestmark = pytest.mark.functional


def cold(first_ms: float, start_ms: float = 200.0) -> dict[str, float]:
    keys = ("imports_ms", "setup_ms", "model_load_ms", "warm_up_ms", "init_ms")
    return {"container_start_ms": start_ms, "first_answer_ms": first_ms, **dict.fromkeys(keys, 0.0)}


def result(memory: int, warm_ms: list[float], billed: float, colds: list[float]) -> dict:
    return {
        "memory": memory,
        "cpus": memory / 1769,
        "error": "",
        "billed_ms": billed,
        "warm_samples_ms": warm_ms,
        "colds": [cold(ms) for ms in colds],
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with `lit bench` results: 512 MB twice as slow as 1024 MB, and a size that failed."""
    root = tmp_path / "fn"
    (root / "model").mkdir(parents=True)
    (root / "model" / "fn.onnx").write_bytes(b"planning reads no model")
    (root / "lit.toml").write_text('name = "fn"\n[model]\npath = "model"\nformat = "onnx"\n[function]\nmemory = 1024\n')
    (root / ".lit").mkdir()
    results = [
        result(512, [100.0] * 50 + [120.0] * 50, 100.0, [1800.0, 2000.0, 2200.0]),
        result(1024, [50.0] * 50 + [60.0] * 50, 50.0, [900.0, 1000.0, 1100.0]),
        {"memory": 128, "cpus": 0.07, "error": "out of memory at 128 MB"},
    ]
    report = {"image": "lit-fn:latest", "size_mb": 100, "layers": [], "architecture": "x86_64", "results": results}
    (root / ".lit" / "bench.json").write_text(json.dumps(report))
    return root


def planned(*args: str) -> dict:
    proc = lit("plan", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_steady_rate_costs_what_the_price_table_says(project: Path) -> None:
    out = planned(str(project), "--rps", "2", "--duration", "2h")
    assert [s["memory"] for s in out["sizes"]] == [512, 1024]
    one = next(s for s in out["sizes"] if s["memory"] == 1024)
    # 2 req/s of 50-60 ms: mostly one environment, a second now and then, never reclaimed (10 min)
    assert 14_000 < one["requests"] < 14_800 and one["throttled"] == 0
    assert (
        1 <= one["peak_concurrency"] <= 6 and one["peak_concurrency"] <= one["cold"] <= 20
    )  # reclaimed levels cold-start again
    assert one["mean_concurrency"] == pytest.approx(2 * 0.055, rel=0.1)
    # by hand: a month is 365 of these 2-hour profiles; warm requests bill 50 ms, cold ones their first answer
    month = prices.HOURS_PER_MONTH / 2
    assert one["cost"]["requests"] == pytest.approx(one["served"] * 0.20 / 1e6 * month, abs=0.01)
    billed_s = (one["served"] - one["cold"]) * 0.050 + one["cold"] * 1.0  # cold draws average ~1,000 ms
    expected = billed_s * 1.0 * prices.GB_SECOND["x86_64"] * month
    assert one["cost"]["duration"] == pytest.approx(expected, rel=0.02)
    assert one["cost"]["provisioned"] == 0
    # the latency percentiles mix warm samples and the cold starts (container start + first answer)
    assert one["p50_ms"] in (50.0, 60.0) and one["p99_ms"] == 60.0
    assert one["p999_ms"] >= 60.0
    # 512 MB bills twice the time at half the memory: the same duration cost, and slower
    half = next(s for s in out["sizes"] if s["memory"] == 512)
    assert half["cost"]["duration"] == pytest.approx(one["cost"]["duration"], rel=0.05)
    assert half["p99_ms"] == 120.0
    assert out["prices_as_of"] == prices.PRICES_AS_OF and out["limits"]["idle_reclaim_s"] == 600
    assert "10 minutes" in out["idle_reclaim_source"]


def test_the_cheapest_size_meeting_the_p99_target_is_named(project: Path) -> None:
    out = planned(str(project), "--rps", "5", "--duration", "30m", "--p99-target", "80")
    assert out["recommended"] == 1024 and "p99 <= 80" in out["reason"]
    proc = lit("plan", str(project), "--rps", "5", "--duration", "30m", "--p99-target", "80")
    assert "recommended: 1024 MB" in proc.stdout
    assert "memory  peak conc" in proc.stdout and "$ month" in proc.stdout


def test_provisioned_concurrency_is_said_to_pay_when_its_environments_stay_busy(project: Path) -> None:
    busy = planned(str(project), "--rps", "200", "--duration", "1h", "--memory", "1024")
    (size,) = busy["sizes"]
    assert size["mean_concurrency"] > 8
    assert size["pays"] is not None  # the first levels are busy far more than 60% of the time
    assert size["pays"]["cost"]["provisioned"] > 0
    assert size["pays"]["cost"]["requests"] == size["cost"]["requests"]
    total = sum(size["pays"]["cost"][k] for k in ("requests", "duration", "provisioned"))
    assert total < size["cost_total"]
    assert size["pays"]["cold"] < size["cold"]
    # 200 req/s from no environment: the first second's cold starts make the peak, and the plan says so
    (start,) = [n for n in busy["notes"] if "is at the start" in n]
    assert f"({size['peak_concurrency']:,} at 1024 MB)" in start
    idle = planned(str(project), "--rps", "0.05", "--duration", "1h", "--memory", "1024")
    assert idle["sizes"][0]["pays"] is None  # one request every 20 s: a kept environment would sit idle


def test_a_configured_provisioned_concurrency_is_simulated_and_billed(project: Path) -> None:
    out = planned(str(project), "--rps", "2", "--duration", "1h", "--provisioned", "3", "--memory", "1024")
    (size,) = out["sizes"]
    assert size["provisioned"] == 3 and size["cold"] == 0
    assert size["cost"]["provisioned"] == pytest.approx(
        3 * 1.0 * prices.HOURS_PER_MONTH * 3600 * prices.PROVISIONED_GB_SECOND["x86_64"], abs=0.01
    )


def test_a_profile_beyond_the_account_limit_says_what_lambda_does(project: Path) -> None:
    # 300 req/s of 100-120 ms against a limit of 10: at most 100 req/s pass the rate limit (10 x 10),
    # and 10 environments carry about 90 of those
    out = planned(str(project), "--rps", "300", "--duration", "10m", "--account-limit", "10", "--memory", "512")
    (size,) = out["sizes"]
    assert size["peak_concurrency"] == 10
    # what passes is at most 100 req/s; 10 servers of 110 ms lose some of it (no more than Erlang's
    # loss formula for Poisson arrivals, as the token bucket smooths them) and carry at most 10/0.11 req/s
    loss = 1.0
    for servers in range(1, 11):
        loss = 11 * loss / (servers + 11 * loss)
    assert 600 * 100 * (1 - loss) * 0.97 <= size["served"] <= 600 * 10 / 0.11
    by = size["throttled_by"]
    assert by["rate"] == pytest.approx(600 * 200, rel=0.05) and by["concurrency"] > 0
    assert size["throttled"] == sum(by.values()) == size["requests"] - size["served"]
    text = " ".join(out["notes"])
    assert f"{by['concurrency']:,} requests" in text and f"{by['rate']:,} requests" in text
    assert "429" in text and "Service Quotas" in text


def test_a_traffic_file_is_read_with_times_in_seconds_or_clock_times(project: Path, tmp_path: Path) -> None:
    csv = tmp_path / "day.csv"
    csv.write_text("time,rps\n00:00,1\n00:10,4\n00:20:00,0\n")
    out = planned(str(project), "--traffic", str(csv), "--memory", "1024")
    assert out["duration_s"] == 1800  # the last row lasts as long as the step before it
    buckets = out["sizes"][0]["timeline"]
    first = sum(b["requests"] for b in buckets if b["start"] < 600)
    second = sum(b["requests"] for b in buckets if 600 <= b["start"] < 1200)
    assert 480 < first < 720 and 2100 < second < 2700
    assert sum(b["requests"] for b in buckets if b["start"] >= 1200) == 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("0,5\n60,abc\n", "day.csv:2: 'abc' is not a rate"),
        ("0,5\n1:75,3\n", "day.csv:2: '1:75' is not a time"),
        ("0,5\n60,-1\n", "day.csv:2: a negative rate"),
        ("0,5\n60,2\n30,1\n", "day.csv:3: time 30 does not come after"),
        ("0,5,7\n", "day.csv:1: expected 2 columns"),
        ("time,rps\n0,5\n", "at least 2"),
    ],
)
def test_a_traffic_file_with_a_bad_row_names_the_line(project: Path, tmp_path: Path, content: str, needle: str) -> None:
    csv = tmp_path / "day.csv"
    csv.write_text(content)
    assert_clean_failure(lit("plan", str(project), "--traffic", str(csv)), 2, needle)


def test_no_bench_results_yet_says_run_lit_bench_first(project: Path) -> None:
    (project / ".lit" / "bench.json").unlink()
    assert_clean_failure(lit("plan", str(project), "--rps", "1"), 1, "no bench results")
    assert "run `lit bench" in lit("plan", str(project), "--rps", "1").stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "either --rps N or --traffic FILE"),
        (("--rps", "1", "--duration", "soon"), "--duration 'soon' is not a duration"),
        (("--rps", "1", "--memory", "2048"), "no results for [2048] MB"),
        (("--rps", "1", "--reserved", "2000"), "above the account limit"),
        (("--rps", "1", "--idle-reclaim", "never"), "--idle-reclaim 'never'"),
    ],
)
def test_inputs_it_cannot_plan_with_get_one_clear_message(project: Path, args: tuple[str, ...], needle: str) -> None:
    proc = lit("plan", str(project), *args)
    assert proc.returncode != 0 and needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "fix:" in proc.stderr


def test_the_plot_draws_the_timeline(project: Path, tmp_path: Path) -> None:
    png = tmp_path / "plan.png"
    proc = lit("plan", str(project), "--rps", "3", "--duration", "20m", "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_percentiles_weigh_cold_starts_by_how_often_they_happen() -> None:
    from lit.simulate import Figures, Limits, Outcome

    figures = Figures(1024, (10.0, 10.0, 10.0, 20.0), 20.0, (1000.0,), (900.0,))
    outcome = Outcome(figures, Limits(), 100.0, requests=1000, warm=990, cold=10, cold_counts=[10])
    p50, p99, p999 = plan.percentiles(outcome, (0.5, 0.99, 0.999))
    assert (p50, p99, p999) == (10.0, 20.0, 1000.0)  # 10 of 1,000 requests (1%) are cold: above p99
    assert plan.percentiles(outcome, (0.99,), extra_warm=10, cold_kept=0.0) == [20.0]
    assert math.isclose(plan.PROVISIONED_BREAK_EVEN, 0.6, abs_tol=0.001)


def snapstart_project(root: Path, snapstart: bool) -> Path:
    """1024 MB, warm 50 ms; each cold start: a 200 ms container start, then 1,000 ms of which 900 are
    the init and 100 the first request."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "fn.onnx").write_bytes(b"planning reads no model")
    toml = 'name = "fn"\n[model]\npath = "model"\nformat = "onnx"\n[function]\nmemory = 1024\n'
    (root / "lit.toml").write_text(toml + ("snapstart = true\n" if snapstart else ""))
    (root / ".lit").mkdir()
    colds = [{**cold(1000.0), "init_ms": 900.0}] * 3
    results = [{**result(1024, [50.0] * 100, 50.0, []), "colds": colds}]
    report = {"image": "lit-fn:latest", "size_mb": 100, "layers": [], "architecture": "x86_64", "results": results}
    (root / ".lit" / "bench.json").write_text(json.dumps(report))
    return root


def test_snapstart_cold_starts_are_restores_and_are_priced_from_the_price_table(tmp_path: Path) -> None:
    """Nearly every request cold (one every 100 s, environments reclaimed after 1 s): with SnapStart each is a
    restore (--restore-ms 200) and the 100 ms request; without, the container start, init and request."""
    traffic = ("--rps", "0.01", "--duration", "1d", "--idle-reclaim", "1s")
    on = snapstart_project(tmp_path / "on", True)
    out = planned(str(on), *traffic, "--restore-ms", "200")
    assert out["snapstart"] is True and out["restore_ms"] == 200 and out["restore_source"] == "set with --restore-ms"
    size = out["sizes"][0]
    assert size["cold"] > 0.95 * size["served"] > 700
    assert size["p50_ms"] == size["p99_ms"] == 300.0  # 200 ms restore + the 100 ms request
    # by hand: a month is 730 / 24 of these days; 1 GB; each cold start bills 300 ms and restores 1 GB;
    # the one version's snapshot is cached all month
    month = prices.HOURS_PER_MONTH / 24
    restores = size["cold"] * month * 1.0 * 0.0001397998
    cache = 1.0 * prices.HOURS_PER_MONTH * 3600 * 0.0000015046
    assert prices.SNAPSTART_RESTORE_GB == 0.0001397998 and prices.SNAPSTART_CACHE_GB_SECOND == 0.0000015046
    assert size["cost"]["snapstart"] == pytest.approx(restores + cache, abs=0.01)
    billed_s = size["cold"] * 0.300 + (size["served"] - size["cold"]) * 0.050
    assert size["cost"]["duration"] == pytest.approx(billed_s * prices.GB_SECOND["x86_64"] * month, abs=0.01)
    assert size["cost"]["total"] == pytest.approx(
        size["cost"]["requests"] + size["cost"]["duration"] + size["cost"]["snapstart"], abs=0.01
    )
    assert size["pays"] is None, "no provisioned concurrency is offered with SnapStart"

    off = planned(str(snapstart_project(tmp_path / "off", False)), *traffic)
    assert off["snapstart"] is False and off["restore_ms"] is None
    assert off["sizes"][0]["p50_ms"] == 1200.0 and off["sizes"][0]["cost"]["snapstart"] == 0
    # --snapstart plans it for a project without it, at the stated default restore time
    default = planned(str(tmp_path / "off"), *traffic, "--snapstart")
    assert default["restore_ms"] == plan.RESTORE_MS and "sub-second" in default["restore_source"]
    assert default["sizes"][0]["p50_ms"] == plan.RESTORE_MS + 100
    text = lit("plan", str(on), *traffic).stdout
    assert f"a restore of {plan.RESTORE_MS:g} ms" in text and "$ snapstart" in text


def test_snapstart_with_provisioned_concurrency_is_refused(tmp_path: Path) -> None:
    on = snapstart_project(tmp_path / "on", True)
    proc = lit("plan", str(on), "--rps", "1", "--provisioned", "2")
    assert_clean_failure(proc, 2, "SnapStart with provisioned concurrency 2")
