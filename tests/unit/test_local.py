"""`lit run`'s container settings and how `lit invoke` reads the RIE's answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit import local, project

pytestmark = pytest.mark.unit


def test_run_args_give_lambda_limits_and_sandbox(digits_stub: Path) -> None:
    proj = project.load(digits_stub)
    args = local.run_args(proj, "127.0.0.1:9000:8080", 2048, 15)
    assert args[:2] == ["-p", "127.0.0.1:9000:8080"]
    assert "--memory=2048m" in args and "--memory-swap=2048m" in args
    assert f"--cpus={local.cpu_share(2048)}" in args
    assert "--read-only" in args and args[args.index("--user") + 1] == "993:990"
    tmpfs = args[args.index("--tmpfs") + 1]
    assert tmpfs.startswith("/tmp:") and f"size={proj.function.ephemeral_storage}m" in tmpfs
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT=15" in args
    loose = local.run_args(proj, "127.0.0.1:9000:8080", 2048, 15, sandbox=False)
    assert "--read-only" not in loose and "--user" not in loose


def test_rie_timeout_text_becomes_lambdas_error_shape() -> None:
    payload = local.parse_payload(b"Task timed out after 2.00 seconds")
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 2.00 seconds"}
    assert local.parse_payload(b'{"a": 1}') == {"a": 1}
    assert local.parse_payload(b"plain words") == "plain words"
    assert local.parse_payload(b"") is None


def test_init_report_only_over_lambdas_ten_seconds() -> None:
    assert local.init_report(9999.0) == []
    lines = local.init_report(12345.678)
    assert lines[0] == "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout"
    assert lines[1] == "INIT_REPORT Init Duration: 12345.68 ms\tPhase: invoke\tStatus: success"


def test_parse_report_reads_the_last_report_line() -> None:
    logs = (
        "START RequestId: a\nREPORT RequestId: a\tDuration: 3.10 ms\tBilled Duration: 4 ms\n"
        "REPORT RequestId: b\tInit Duration: 0.06 ms\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 1024 MB\t\n"
    )
    request_id, figures = local.parse_report(logs)
    assert request_id == "b"
    assert figures["duration_ms"] == 1.5 and figures["billed_duration_ms"] == 2 and figures["memory_size_mb"] == 1024


def test_the_event_lit_invoke_sends(tmp_path: Path) -> None:
    import base64
    import json

    from lit.errors import LitError

    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG fake")
    event = tmp_path / "e.json"
    event.write_text('{"a": 1}')
    assert json.loads(local.event_body(None, png, None)) == {"image": base64.b64encode(b"\x89PNG fake").decode()}
    assert local.event_body(event, None, None) == b'{"a": 1}'
    assert local.event_body(Path("-"), None, None, stdin=b'{"b": 2}') == b'{"b": 2}'
    assert local.event_body(None, None, '{"c": 3}') == b'{"c": 3}'
    assert local.event_body(None, None, None) == b"{}"
    for args, needle in (
        ((event, png, None), "give one of --event, --image, --data"),
        ((tmp_path / "none.json", None, None), "does not exist"),
        ((None, tmp_path / "none.png", None), "does not exist"),
        ((None, None, "{not json"), "not valid JSON"),
    ):
        with pytest.raises(LitError, match=needle):
            local.event_body(*args)


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits:abc123",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits",
        ),
        ("127.0.0.1:5000/team/fn:v1", "127.0.0.1:5000/team/fn"),
        ("127.0.0.1:5000/fn", "127.0.0.1:5000/fn"),
        ("lit-digits:latest", "lit-digits"),
        ("host/fn@sha256:" + "a" * 64, "host/fn"),
    ],
)
def test_a_pushed_reference_names_its_repository(ref: str, repository: str) -> None:
    from lit.docker import repository_of

    assert repository_of(ref) == repository
