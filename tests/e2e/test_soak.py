"""Memory stays flat over thousands of warm invokes, good and bad ones mixed (benchmarks/soak.py
does 10,000 and reports the figures)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lit import local
from lit.docker import Docker
from tests.conftest import heldout
from tests.e2e.conftest import RUN_ID

pytestmark = pytest.mark.e2e


def test_rss_stays_flat_over_2000_warm_invokes(
    docker: Docker, digits_project: Path, digits_image: str, running
) -> None:
    port = running(digits_project, "--image", digits_image)
    url = f"http://127.0.0.1:{port}{local.INVOKE_PATH}"
    bodies = [
        json.dumps({"image": base64.b64encode(p.read_bytes()).decode()}).encode() for p, _ in heldout(digits_project)
    ]
    bad = json.dumps({"image": base64.b64encode(b"no image").decode()}).encode()
    for i in range(2000):
        status, raw, _ = local.post(url, bad if i % 10 == 9 else bodies[i % len(bodies)], 60)
        assert status == 200
    [c] = docker.containers(f"lit.run=digits-t{RUN_ID}")
    rss = [line["max_rss_mb"] for line in local.runtime_lines(docker.logs(c.id), "request")]
    assert len(rss) == 2000
    print(f"runtime RSS: {rss[199]} MB after 200 invokes, {rss[-1]} MB after 2000")
    assert rss[-1] - rss[199] <= 3.0, "the runtime's memory grows with requests"
