"""`lit bench`'s arithmetic: Lambda's price, percentiles, the recommendation, the default event."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lit import bench, project

pytestmark = pytest.mark.unit
DIGITS = Path(__file__).resolve().parents[2] / "images" / "digits"


def size(memory: int, p99: float, billed: float, error: str = "") -> bench.SizeResult:
    r = bench.SizeResult(memory, memory / 1769, warm_p50_ms=p99 / 2, warm_p99_ms=p99, billed_ms=billed, error=error)
    r.cost_per_million = bench.cost_per_million(billed, memory, "x86_64")
    return r


def test_cost_per_million_uses_lambdas_prices() -> None:
    # 100 ms at 1,024 MB = 0.1 GB-s: 0.1 * 0.0000166667 * 1e6 + 0.20 = 1.86667 USD
    assert bench.cost_per_million(100, 1024, "x86_64") == pytest.approx(1.8667, abs=1e-4)
    assert bench.cost_per_million(100, 1024, "arm64") == pytest.approx(1.5333, abs=1e-4)
    assert bench.cost_per_million(0, 10240, "x86_64") == pytest.approx(0.20)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.99) == 99.0
    assert bench.percentile(values, 0.5) == 50.0
    assert bench.percentile([7.0], 0.99) == 7.0


def test_recommends_the_cheapest_within_the_bound() -> None:
    results = [size(512, 60.0, 5.0), size(1024, 9.0, 3.0), size(2048, 3.0, 2.0), size(3008, 2.9, 2.0)]
    memory, bound, reason = bench.recommend(results, None)  # default: 1.25 x the best p99 = 3.625 ms
    assert bound == pytest.approx(3.625) and memory == 2048 and "cheapest" in reason
    assert bench.recommend(results, 10.0)[0] == 1024  # 512 MB is cheapest but too slow
    assert bench.recommend(results, 100.0)[0] == 512
    assert bench.recommend(results, 1.0)[0] is None
    failed = [size(128, 0, 0, error="out of memory at 128 MB"), size(1024, 9.0, 3.0)]
    assert bench.recommend(failed, None)[0] == 1024
    assert bench.recommend([failed[0]], None) == (None, 0.0, "no memory size ran")


def test_default_event_is_a_decodable_image_of_the_models_size() -> None:
    import cv2
    import numpy as np

    event = json.loads(bench.default_event(project.load(DIGITS)))
    img = cv2.imdecode(np.frombuffer(base64.b64decode(event["image"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (8, 8) and int(img[0, 0]) == 128


def test_text_report_names_failures_and_the_recommendation() -> None:
    report = bench.Report("lit-x:latest", 400.0, [bench.Layer("abc", 400.0, "COPY")], "x86_64")
    report.results = [size(128, 0, 0, error="out of memory at 128 MB"), size(1024, 9.0, 3.0)]
    report.recommended, report.bound_ms, report.reason = bench.recommend(report.results, None)
    out = bench.text(report)
    assert "failed: out of memory at 128 MB" in out and "recommended: 1024 MB" in out
