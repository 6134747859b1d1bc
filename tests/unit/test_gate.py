"""The deploy gate's configuration: lit.toml's [deploy.gate] and `lit deploy --gate FILE`, each
mistake named with its fix (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit import gate
from lit.errors import ConfigError
from lit.project import load

pytestmark = pytest.mark.unit


def test_a_gate_from_lit_toml_and_from_a_file(digits_stub: Path) -> None:
    (digits_stub / "heldout").mkdir()
    config = digits_stub / "lit.toml"
    config.write_text(config.read_text() + '\n[deploy.gate]\ndata = "heldout"\nmin = 0.95\n')
    got = load(digits_stub).gate
    assert got == gate.Gate((digits_stub / "heldout").resolve(), 0.95, None, 5, 1)
    (digits_stub / "g.toml").write_text('[gate]\ndata = "heldout"\nmax_drop = 0.01\nk = 3\nbatch = 8\n')
    assert gate.load(digits_stub / "g.toml") == gate.Gate((digits_stub / "heldout").resolve(), None, 0.01, 3, 8)
    assert load(digits_stub / ".." / digits_stub.name).gate is not None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('data = "heldout"\nmin = 0.9\nfloor = 1\n', "unknown key 'floor'"),
        ('data = "nowhere"\nmin = 0.9\n', "is not a file or folder"),
        ('data = "heldout"\n', "sets neither min nor max_drop"),
        ('data = "heldout"\nmin = -1\n', "min = -1"),
        ('data = "heldout"\nmax_drop = true\n', "max_drop = True"),
        ('data = "heldout"\nmin = 0.5\nbatch = 0\n', "batch = 0"),
    ],
)
def test_a_wrong_gate_is_a_config_error_naming_it(digits_stub: Path, table: str, message: str) -> None:
    (digits_stub / "heldout").mkdir()
    config = digits_stub / "lit.toml"
    config.write_text(config.read_text() + "\n[deploy.gate]\n" + table)
    with pytest.raises(ConfigError, match=message):
        load(digits_stub)
    (digits_stub / "g.toml").write_text(table)
    with pytest.raises(ConfigError, match=message):
        gate.load(digits_stub / "g.toml")


def test_an_unreadable_gate_file(tmp_path: Path) -> None:
    (tmp_path / "g.toml").write_text("data = [")
    with pytest.raises(ConfigError, match="cannot be read as TOML"):
        gate.load(tmp_path / "g.toml")
    with pytest.raises(ConfigError, match="cannot be read as TOML"):
        gate.load(tmp_path / "missing.toml")
