"""Shared fixtures: isolation from the developer's machine, recorded events, the digits model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"
FIXTURES = Path(__file__).parent / "fixtures"
DIGITS = ROOT / "images" / "digits"


@pytest.fixture(autouse=True)
def no_local_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's AWS credentials or config, or writes to their caches."""
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def load_event(name: str, image: bytes | None = None) -> dict:
    """A recorded Lambda event from tests/events/, with __IMAGE_B64__ filled in."""
    import base64

    text = (EVENTS / f"{name}.json").read_text()
    if image is not None:
        text = text.replace("__IMAGE_B64__", base64.b64encode(image).decode())
    return json.loads(text)


@pytest.fixture(scope="session")
def digits_model() -> Path:
    """The digits project with a trained model (trained here, on scikit-learn's real digits)."""
    if not (DIGITS / "model" / "digits-0000.params").is_file() or not (DIGITS / "heldout" / "labels.json").is_file():
        subprocess.run([sys.executable, str(DIGITS / "train.py")], check=True, capture_output=True)
    return DIGITS


@pytest.fixture()
def digits_copy(digits_model: Path, tmp_path: Path) -> Path:
    """A private copy of the digits project, to edit freely."""
    dest = tmp_path / "digits"
    shutil.copytree(digits_model, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def heldout(root: Path) -> list[tuple[Path, int]]:
    labels = json.loads((root / "heldout" / "labels.json").read_text())["labels"]
    return [(root / "heldout" / name, label) for name, label in sorted(labels.items())]


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
