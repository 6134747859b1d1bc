"""`lit scan` on the images LIT builds (nothing found) and on one with a key planted in a lower layer."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from lit.base import SYSTEM_CA
from lit.docker import Docker, RunSpec
from tests.e2e.conftest import RUN_ID, lit

pytestmark = pytest.mark.e2e


def test_the_base_and_function_images_hold_no_secrets(
    base_image: tuple[str, str], digits_project: Path, digits_image: str
) -> None:
    # The base was built with a CA bundle handed to pip (with a marker); no layer may hold it.
    for target in (base_image[0], str(digits_project)):  # a project directory means its image
        result = json.loads(lit("scan", target, "--json").stdout)
        print(f"lit scan {result['image']}: {result['seconds']} s, {result['layers']} layers, {result['files']} files")
        assert result["findings"] == [] and result["unscanned"] == []
        assert result["files"] > 1000
    assert result["image"] == digits_image


def test_a_key_and_the_build_ca_bundle_deleted_in_a_later_layer_are_still_found(
    docker: Docker, base_image: tuple[str, str], tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    body = base64.encodebytes(os.urandom(600)).decode()
    label = "OPENSSH PRIVATE KEY"  # a fake key: random bytes in a PEM block
    (ctx / "id_ed25519").write_text(f"-----BEGIN {label}-----\n{body}-----END {label}-----\n")
    # what the marker test in test_spine.py guards against: the bundle LIT hands to pip, left in a layer
    certs = SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else ""
    (ctx / "ca-bundle.crt").write_text(f"{certs}\n# {base_image[1]}\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image[0]}\n"
        "COPY id_ed25519 /root/.ssh/id_ed25519\n"
        "COPY ca-bundle.crt /tmp/lit/ca-bundle.crt\n"
        "RUN rm -r /root/.ssh/id_ed25519 /tmp/lit\n"
    )
    tag = f"lit-planted:t{RUN_ID}"
    try:
        docker.build(ctx, tag)
        check = ("-c", "test ! -e /root/.ssh/id_ed25519 -a ! -e /tmp/lit")
        gone = docker.run_once(RunSpec(tag, check, network="none", entrypoint="sh"))
        assert gone.returncode == 0, "the top layer deletes both"

        proc = lit("scan", tag, "--json", check=False)
        assert proc.returncode == 1
        assert "fix:" in proc.stderr and "Traceback" not in proc.stderr
        key, bundle = json.loads(proc.stdout)["findings"]
        layers = (docker.image(tag) or {})["RootFS"]["Layers"]
        assert key["kind"] == "private-key" and key["path"] == "/root/.ssh/id_ed25519"
        assert key["layer"] == layers[-3] and "COPY" in key["step"]
        assert bundle["kind"] == "ca-bundle" and bundle["path"] == "/tmp/lit/ca-bundle.crt"
        assert bundle["layer"] == layers[-2] and "LIT's build-time CA bundle" in bundle["detail"]

        text = lit("scan", tag, check=False)
        assert text.returncode == 1 and "/root/.ssh/id_ed25519" in text.stdout and "private-key" in text.stdout
    finally:
        docker.remove_image(tag)


def test_the_secrets_a_first_pass_missed_are_found_each_in_its_layer(
    docker: Docker, base_image: tuple[str, str], tmp_path: Path
) -> None:
    """A Google service account key, a .env with a password and a GitHub token in YAML (made up at
    random here), each added by its own step; the last step deletes them all."""
    from tests.fixtures.secrets import planted

    files = planted()
    chosen = {
        "app/gcp.json": "/srv/keys/gcp.json",
        "app/.env": "/var/task/.env",
        "app/ci.yaml": "/srv/ci.yaml",
        "app/slack.py": "/var/task/slack.py",
    }
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    steps = []
    for i, (name, dest) in enumerate(chosen.items()):
        (ctx / f"f{i}").write_bytes(files[name][0])
        steps.append(f"COPY f{i} {dest}")
    (ctx / "Dockerfile").write_text(
        f"FROM {base_image[0]}\n" + "\n".join(steps) + "\nRUN rm " + " ".join(chosen.values()) + "\n"
    )
    tag = f"lit-planted2:t{RUN_ID}"
    try:
        docker.build(ctx, tag)
        proc = lit("scan", tag, "--json", check=False)
        assert proc.returncode == 1 and "fix:" in proc.stderr
        findings = json.loads(proc.stdout)["findings"]
        layers = (docker.image(tag) or {})["RootFS"]["Layers"]
        for i, (name, dest) in enumerate(chosen.items()):
            kind = files[name][1]
            mine = [f for f in findings if f["path"] == dest and f["kind"] == kind]
            assert mine, (dest, findings)
            assert mine[0]["layer"] == layers[-(len(chosen) + 1) + i] and "COPY" in mine[0]["step"]
    finally:
        docker.remove_image(tag)
