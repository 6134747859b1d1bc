"""AWS failures said in one message with a fix and exit 4, never a traceback or a raw XML body:
no region, wrong keys, a wrong secret (against a stand-in that checks signatures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional


def lit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lit", *args], capture_output=True, text=True, env=env, timeout=120)


def clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "<?xml" not in proc.stderr and "fix:" in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", [["push"], ["deploy", "--image-uri", "r@sha256:" + "a" * 64], ["status"]])
def test_no_region_is_exit_4_with_a_fix(moto_server: str, digits_copy: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env["AWS_ENDPOINT_URL"] = moto_server  # were a call to go out, it would reach the stand-in, never AWS
    proc = lit(command[0], str(digits_copy), *command[1:], env=env)
    assert proc.returncode == 4 and "no AWS region" in proc.stderr and "--region" in proc.stderr
    clean(proc)


@pytest.mark.parametrize(
    ("key_id", "secret", "code"),
    [
        ("AKIA" + "Q" * 16, "x" * 40, "InvalidClientTokenId"),
        (None, "wrong-secret-" + "y" * 27, "SignatureDoesNotMatch"),
    ],
)
def test_wrong_keys_name_the_cause_not_xml(
    moto_auth: dict, digits_copy: Path, key_id: str | None, secret: str, code: str
) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_auth["url"],
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": key_id or moto_auth["key_id"],
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    for command in (["deploy", "--image-uri", "r@sha256:" + "a" * 64], ["status"]):
        proc = lit(command[0], str(digits_copy), *command[1:], env=env)
        assert proc.returncode == 4, proc.stderr
        assert code in proc.stderr and "check your AWS credentials" in proc.stderr, proc.stderr
        clean(proc)
