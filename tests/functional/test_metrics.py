"""The runtime's log lines are CloudWatch Embedded Metric Format records: checked against the
format's rules on the lines the real digits model writes (init, a good request, a refused one).
What a line costs to write is measured by benchmarks/emf.py."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, heldout, load_event, start_app

pytestmark = pytest.mark.functional
pytest.importorskip("mxnet")


UNITS = {"Milliseconds", "Megabytes", "Count"}


def check_emf(record: dict) -> list[str]:
    """The metric names a record declares, after checking it as CloudWatch would
    (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)."""
    meta = record["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1.7e12, "epoch milliseconds"
    names: list[str] = []
    for directive in meta["CloudWatchMetrics"]:
        assert 1 <= len(directive["Namespace"]) <= 1024
        for dims in directive["Dimensions"]:
            assert 1 <= len(dims) <= 30
            for dim in dims:
                assert isinstance(record[dim], str) and record[dim], f"dimension {dim} is a top-level string"
        assert len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            value = record[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), metric
            assert metric["Unit"] in UNITS
            names.append(metric["Name"])
    return names


def records(out: str, event: str) -> list[dict]:
    found = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [r for r in found if r.get("event") == event]


def test_init_and_request_lines_are_emf(digits_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "services" / "raises_in_inference.py", digits_copy / "service.py")
    app = start_app(digits_copy)
    (init,) = records(capsys.readouterr().out, "init")
    assert set(check_emf(init)) == {"imports_ms", "setup_ms", "model_load_ms", "warm_up_ms", "init_ms"}
    parts = init["imports_ms"] + init["setup_ms"] + init["model_load_ms"] + init["warm_up_ms"]
    assert init["init_ms"] >= parts - 0.01 and init["function"] == "digits"

    path, _ = heldout(digits_copy)[0]
    good = {"images": [base64.b64encode(path.read_bytes()).decode()] * 3}
    bad = load_event("function-url-binary", b"not an image")
    lines = []
    for event in (good, bad):
        try:
            app.handle(event)
        except Exception:  # noqa: BLE001 - the fixture's hook raises on some inputs; the line is what counts
            pass
        (line,) = records(capsys.readouterr().out, "request")
        lines.append(line)
    ok, refused = lines
    names = check_emf(ok)
    assert {"batch_size", "errors", "rejected", "decode_ms", "preprocess_ms", "max_rss_mb"} <= set(names)
    assert ok["batch_size"] == 3
    assert (ok["status"], ok["errors"]) in ((200, 0), (500, 1))
    assert refused["status"] == 400 and refused["rejected"] == 1 and refused["errors"] == 0
    check_emf(refused)
