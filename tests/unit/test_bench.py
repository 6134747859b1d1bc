"""`lit bench`'s arithmetic: Lambda's price, percentiles, the recommendation, the default event."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lit import bench, project
from lit.errors import LitError

pytestmark = pytest.mark.unit


def size(memory: int, p99: float, billed: float, error: str = "") -> bench.SizeResult:
    r = bench.SizeResult(memory, memory / 1769, warm_p50_ms=p99 / 2, warm_p99_ms=p99, billed_ms=billed, error=error)
    r.warm_p99_ci_ms = (p99 * 0.98, p99 * 1.02)  # samples that pin the p99 down closely
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


def test_default_event_is_a_decodable_image_of_the_models_size(digits_stub: Path) -> None:
    import cv2
    import numpy as np

    event = json.loads(bench.default_event(project.load(digits_stub)))
    img = cv2.imdecode(np.frombuffer(base64.b64decode(event["image"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (8, 8) and int(img[0, 0]) == 128


def test_an_adapter_project_has_no_default_event(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "net-symbol.json").write_text("{}")
    (tmp_path / "model" / "service.py").write_text("def handle(data, context):\n    return data\n")
    (tmp_path / "lit.toml").write_text(
        'name = "m"\n[model]\npath = "model"\n[adapter]\nkind = "mms"\nhandler = "service"\n'
    )
    with pytest.raises(LitError, match="an \\[adapter\\] handler decides what a request holds") as err:
        bench.default_event(project.load(tmp_path))
    assert "--event" in err.value.fix


def test_text_report_names_failures_and_the_recommendation() -> None:
    report = bench.Report("lit-x:latest", 400.0, [bench.Layer("abc", 400.0, "COPY")], "x86_64")
    report.results = [size(128, 0, 0, error="out of memory at 128 MB"), size(1024, 9.0, 3.0)]
    report.recommended, report.bound_ms, report.reason = bench.recommend(report.results, None)
    out = bench.text(report)
    assert "failed: out of memory at 128 MB" in out and "recommended: 1024 MB" in out


def test_quantile_interval_covers_the_true_p99() -> None:
    import random

    rng = random.Random(3)
    true_p99 = 2.326  # of a standard normal
    covered = 0
    for _ in range(400):
        lo, hi = bench.quantile_ci([rng.gauss(0, 1) for _ in range(300)], 0.99)
        covered += lo <= true_p99 <= hi
    assert 0.90 <= covered / 400 <= 0.995, covered  # a 95% interval, give or take the discrete ranks


def test_sizes_clearly_apart_are_not_called_noise() -> None:
    import random

    rng = random.Random(5)
    results = [measured(1024, rng, 300.0, 280.0, n=200), measured(2048, rng, 100.0, 95.0, n=200)]
    memory, _, reason = bench.recommend(results, None)
    assert memory == 2048 and "within noise" not in reason


def measured(memory: int, rng: object, p99_scale: float, billed: float, n: int = 30) -> bench.SizeResult:
    """A size as lit bench measures it: n warm samples from a heavy-tailed (host noise) distribution."""
    samples = [p99_scale * rng.lognormvariate(0, 0.35) for _ in range(n)]  # type: ignore[attr-defined]
    r = bench.SizeResult(memory, memory / 1769, warm_p99_ms=bench.percentile(samples, 0.99), billed_ms=billed)
    r.warm_p99_ci_ms = bench.quantile_ci(samples, 0.99)
    r.warm_samples_ms = samples
    r.cost_per_million = bench.cost_per_million(billed, memory, "x86_64")
    return r


def test_sizes_within_noise_give_the_cheapest_every_time() -> None:
    """ResNet-50-like: 2,048 MB is a little faster than 1,024 MB but, over 30 samples, not
    distinguishably so; the recommendation must not follow the noise from run to run."""
    import random

    picks, plain = set(), set()
    for seed in range(30):
        rng = random.Random(seed)
        results = [measured(1024, rng, 100.0, 95.0), measured(2048, rng, 92.0, 88.0)]
        memory, _, reason = bench.recommend(results, None)
        picks.add(memory)
        plain.add(bench._pick(results, None, {r.memory: r.warm_p99_ms for r in results})[0])
    assert plain == {1024, 2048}, "the p99 alone flips with the noise"
    assert picks == {1024}, picks
    assert "within noise" in reason and "1024, 2048 MB" in reason
