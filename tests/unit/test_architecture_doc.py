"""docs/architecture.md stays true: every file it names exists, and every `module.name` it names
in the runtime or the CLI is there."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_file_it_names_exists() -> None:
    paths = set(re.findall(r"`((?:lit|runtime|tests|docs)/[\w/.-]+)`", DOC))
    assert len(paths) > 30
    missing = [p for p in sorted(paths) if not (ROOT / p).exists()]
    assert not missing, missing


@pytest.mark.parametrize(
    "dotted",
    sorted(set(re.findall(r"`([a-z_]+\.[A-Za-z_]+)`", DOC)) - {"lit.toml", "lit.json", "service.py"}),
)
def test_every_name_it_names_is_there(dotted: str) -> None:
    module, name = dotted.split(".")
    if name == "py":  # a file, as `defaults.py`
        found = [
            p
            for base in ("lit", "runtime/lit_runtime", "runtime/lit_runtime/tasks")
            if (ROOT / base / dotted).is_file()
            for p in [base]
        ]
        assert found, dotted
        return
    if module in ("lit", "lit_runtime"):  # a module of the package itself, as `lit_runtime.check`
        importlib.import_module(dotted)
        return
    for package in ("lit_runtime", "lit"):
        try:
            mod = importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError:
            continue
        if hasattr(mod, name):
            return
    raise AssertionError(f"{dotted} is named in docs/architecture.md and is not in lit_runtime or lit")
