"""The per-request EMF record made from a template is the record line() makes from the fields."""

from __future__ import annotations

import json

import pytest
from lit_runtime import metrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("request_id", "status", "error"),
    [
        ("8f5c2a9e-3d1b-4c7a-9e2f-1a2b3c4d5e6f", 200, None),
        ('odd"id\\with\nescapes', 400, 'field "image" is not base64: \u00e9\x00'),
        ("", 500, "RuntimeError: boom"),
    ],
)
def test_request_line_equals_the_generic_record(request_id: str, status: int, error: str | None) -> None:
    timings = {"decode": 0.021, "preprocess": 1e-05, "inference": 12.5}
    made = json.loads(metrics.request_line("digits", request_id, "sqs", status, 3, timings, 61.2, error))
    fields = {
        "event": "request",
        "function": "digits",
        "version": metrics.VERSION,
        "request_id": request_id,
        "trigger": "sqs",
        "status": status,
        "batch_size": 3,
        "errors": int(status >= 500),
        "rejected": int(400 <= status < 500),
        "decode_ms": 0.021,
        "preprocess_ms": 1e-05,
        "inference_ms": 12.5,
        "max_rss_mb": 61.2,
        **({"error": error} if error else {}),
    }
    generic = json.loads(metrics.line(fields))
    assert abs(made["_aws"].pop("Timestamp") - generic["_aws"].pop("Timestamp")) < 5000
    assert made == generic
    # per function, and per function and version (a rollout watches the new version's)
    assert made["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function"], ["function", "version"]]
    declared = {m["Name"] for m in made["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert declared == {"batch_size", "errors", "rejected", "decode_ms", "preprocess_ms", "inference_ms", "max_rss_mb"}
