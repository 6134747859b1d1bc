"""CloudWatch Embedded Metric Format: the runtime's log lines carry their own metrics.

Each init and request line is one JSON object whose `_aws` member tells CloudWatch Logs which of its
fields are metrics (namespace LIT, dimension `function`, and for requests also `function` with the
`version` that answered, which a watched rollout reads per version), so dashboards and alarms on stage
durations, batch sizes, errors and the init split need no code and no extra call. The directive is
made once per set of fields and spliced in as text: the line costs what a plain JSON line costs.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

NAMESPACE = "LIT"
VERSION = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")  # the published version that runs
_UNITS = {"_ms": "Milliseconds", "_mb": "Megabytes"}
_COUNTS = {"batch_size", "errors", "rejected"}
_directives: dict[tuple[str, ...], str] = {}
_templates: dict[tuple[str, str, tuple[str, ...]], tuple[str, str]] = {}
_SAFE = re.compile(r"[A-Za-z0-9_.:/-]*")  # needs no JSON escaping


def _unit(name: str) -> str | None:
    if name in _COUNTS:
        return "Count"
    return next((unit for suffix, unit in _UNITS.items() if name.endswith(suffix)), None)


def _directive(fields: dict[str, Any]) -> str:
    """`,"CloudWatchMetrics":[...]},` for this set of field names, made once per set."""
    key = tuple(fields)
    found = _directives.get(key)
    if found is None:
        numeric = [k for k, v in fields.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        declared = [{"Name": n, "Unit": u} for n in numeric if (u := _unit(n)) is not None]
        dimensions = [["function"], ["function", "version"]] if "version" in fields else [["function"]]
        spec = [{"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": declared}]
        found = _directives[key] = ',"CloudWatchMetrics":' + json.dumps(spec, separators=(",", ":")) + "},"
    return found


def line(fields: dict[str, Any]) -> str:
    """One EMF record: `fields` (which must hold `function`) with the `_aws` directive in front.
    Numeric fields named *_ms, *_mb, batch_size, errors (5xx) and rejected (4xx) are the metrics;
    a field keeps its type from one line to the next (the directive is cached by field names)."""
    return '{"_aws":{"Timestamp":' + str(int(time.time() * 1000)) + _directive(fields) + json.dumps(fields)[1:]


def request_line(
    function: str,
    request_id: str,
    trigger: str,
    status: int,
    batch: int,
    timings: dict[str, float],
    max_rss_mb: float,
    error: str | None = None,
) -> str:
    """The per-request record: what line() makes of these fields, from a template made once per
    (function, trigger, stages), so that it costs less than json.dumps of a dict."""
    key = (function, trigger, tuple(timings))
    template = _templates.get(key)
    if template is None:
        fields: dict[str, Any] = {
            "event": "request",
            "function": function,
            "version": VERSION,
            "request_id": "",
            "trigger": trigger,
            "status": 0,
            "batch_size": 0,
            "errors": 0,
            "rejected": 0,
            **{f"{stage}_ms": 0.0 for stage in timings},
            "max_rss_mb": 0.0,
        }
        head = _directive(fields) + '"event":"request","function":' + json.dumps(function)
        head += ',"version":' + json.dumps(VERSION) + ',"request_id":'
        rest = f',"trigger":{json.dumps(trigger)},"status":%d,"batch_size":%d,"errors":%d,"rejected":%d,'
        rest += "".join(f'"{stage}_ms":%r,' for stage in timings) + '"max_rss_mb":%r'
        template = _templates[key] = (head, rest)
    head, rest = template
    rid = f'"{request_id}"' if _SAFE.fullmatch(request_id) else json.dumps(request_id)
    values = (status, batch, status >= 500, 400 <= status < 500, *timings.values(), max_rss_mb)
    tail = f',"error":{json.dumps(error)}}}' if error else "}"
    return '{"_aws":{"Timestamp":' + str(int(time.time() * 1000)) + head + rid + rest % values + tail
