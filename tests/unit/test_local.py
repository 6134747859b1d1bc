"""`lit run`'s container settings and how `lit invoke` reads the RIE's answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit import local, project
from lit.docker import Publish

pytestmark = pytest.mark.unit


LAMBDA_ENV = [
    "-e",
    "AWS_LAMBDA_FUNCTION_NAME=digits",
    "-e",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048",
    "-e",
    "AWS_LAMBDA_FUNCTION_TIMEOUT=15",
    "-e",
    "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
    "-e",
    "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/digits",
    "-e",
    "AWS_REGION=us-east-1",
    "-e",
    "LAMBDA_TASK_ROOT=/var/task",
]


def test_an_instance_gets_lambdas_limits_and_sandbox(digits_stub: Path) -> None:
    proj = project.load(digits_stub)
    spec = local.instance(proj, "lit-digits:latest", Publish(8080, 9000), 2048, 15, name="lit-digits-9000")
    assert (spec.image, spec.command) == ("lit-digits:latest", ())
    assert spec.flags() == [
        "--name",
        "lit-digits-9000",
        "-p",
        "127.0.0.1:9000:8080",
        "--memory=2048m",
        "--memory-swap=2048m",
        f"--cpus={local.cpu_share(2048)}",
        "--read-only",
        "--tmpfs",
        f"/tmp:rw,exec,nosuid,nodev,size={proj.function.ephemeral_storage}m,mode=1777",
        "--user",
        "993:990",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--pids-limit=1024",
        *LAMBDA_ENV,
        "--label",
        "lit.memory=2048",
        "--label",
        "lit.run=digits",
        "--label",
        "lit.role=instance",
        "--label",
        "lit.port=9000",
    ]
    loose = local.instance(proj, "lit-digits:latest", Publish(8080, 9000), 2048, 15, sandboxed=False).flags()
    assert loose == [
        "-p",
        "127.0.0.1:9000:8080",
        "--memory=2048m",
        "--memory-swap=2048m",
        f"--cpus={local.cpu_share(2048)}",
        *LAMBDA_ENV,
        *("--label", "lit.memory=2048", "--label", "lit.run=digits", "--label", "lit.role=instance"),
        *("--label", "lit.port=9000"),
    ]


def test_instances_behind_the_proxy_and_the_proxy(digits_stub: Path) -> None:
    proj = project.load(digits_stub)
    spec = local.instance(
        proj, "img", Publish(8080), 2048, 15, name="lit-digits-9000-1", platform="linux/arm64", idle_reclaim=2.5
    )
    flags = spec.flags()
    assert flags[:6] == ["--name", "lit-digits-9000-1", "--platform", "linux/arm64", "-p", "127.0.0.1::8080"]
    assert flags[flags.index("LAMBDA_TASK_ROOT=/var/task") + 1 :] == [
        *("-e", "LIT_IDLE_RECLAIM_S=2.5"),
        *("--label", "lit.memory=2048", "--label", "lit.run=digits", "--label", "lit.role=instance"),
        *("--label", "lit.platform=linux/arm64"),
    ], "no lit.port: `lit invoke` finds the proxy, not the instances"
    proxy = local.proxy(proj, "img", 9000, {40001: "c1", 40002: "c2"}, name="lit-digits-9000", platform=None)
    assert proxy.command == ("-m", "lit_runtime.proxy", "9000", "40001,40002")
    assert proxy.flags() == [
        *("--name", "lit-digits-9000", "--network", "host", "--memory=256m", "--read-only", "--user", "993:990"),
        *("--entrypoint", "/opt/lit/bin/python"),
        *("--label", "lit.run=digits", "--label", "lit.role=proxy", "--label", "lit.port=9000"),
        *("--label", "lit.instances=40001=c1,40002=c2"),
    ]


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
