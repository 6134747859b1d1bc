"""`lit logs` on the local function: the runtime's EMF records and the platform's REPORT lines,
filtered by request id, and followed as they are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import heldout
from tests.e2e.conftest import lit, read_until

pytestmark = pytest.mark.e2e


def messages(*args: str) -> list[str]:
    out = lit("logs", *args, "--json").stdout
    return [json.loads(line)["message"] for line in out.splitlines()]


def test_logs_show_records_and_reports_by_request(digits_project: Path, digits_image: str, running) -> None:
    running(digits_project, "--image", digits_image)
    image = str(heldout(digits_project)[0][0])
    ids = [
        json.loads(lit("invoke", str(digits_project), "--image", image, "--json").stdout)["request_id"] for _ in "ab"
    ]
    assert all(ids) and ids[0] != ids[1]
    every = messages(str(digits_project))
    records = [json.loads(m) for m in every if m.startswith('{"_aws"')]
    assert [r["event"] for r in records].count("init") == 1
    assert [r["request_id"] for r in records if r["event"] == "request"] == ids
    assert sum(m.startswith("REPORT RequestId:") for m in every) == 2

    one = messages(str(digits_project), "--request-id", ids[1])
    assert one and all(ids[1] in m for m in one)
    assert any(m.startswith(f"REPORT RequestId: {ids[1]}") for m in one)
    assert not any(ids[0] in m for m in one)
    assert messages(str(digits_project), "--since", "2100-01-01T00:00:00") == []
    bad = lit("logs", str(digits_project), "--since", "yesterday", check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr and "fix:" in bad.stderr

    follow = subprocess.Popen(
        [sys.executable, "-m", "lit", "logs", str(digits_project), "--follow", "--since", "30s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # (--since 30s: the request's lines are shown however soon it comes after the start)
        rid = json.loads(lit("invoke", str(digits_project), "--image", image, "--json").stdout)["request_id"]
        read_until(follow, f"REPORT RequestId: {rid}")
    finally:
        follow.kill()
        follow.wait()


def test_logs_of_a_function_not_running_say_how_to_start_it(digits_project: Path) -> None:
    lit("stop", str(digits_project), check=False)
    proc = lit("logs", str(digits_project), check=False)
    assert proc.returncode == 1 and "lit run" in proc.stderr
