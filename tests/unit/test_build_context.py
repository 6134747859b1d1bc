"""The function image's Dockerfile and build context: layer order and what goes where."""

from __future__ import annotations

from pathlib import Path

import pytest

from lit import build, project

pytestmark = pytest.mark.unit


def test_layers_are_base_requirements_model_code(digits_stub: Path) -> None:
    (digits_stub / "requirements.txt").write_text("tabulate\n")
    text = build.dockerfile(project.load(digits_stub), "lit-base:test")
    final = text[text.rindex("FROM lit-base:test") :]
    order = [final.index(s) for s in ("COPY --from=deps /opt/extra", "COPY model/", "COPY code/")]
    assert order == sorted(order)
    assert "AS deps" in text and "--prefix /opt/extra" in text


def test_no_requirements_means_no_deps_stage(digits_stub: Path) -> None:
    text = build.dockerfile(project.load(digits_stub), "lit-base:test")
    assert "AS deps" not in text and text.count("FROM ") == 1


def test_context_splits_model_and_code_and_excludes(digits_stub: Path, tmp_path: Path) -> None:
    (digits_stub / "service.py").write_text("def initialize(context):\n    return None\n")
    (digits_stub / "__pycache__").mkdir(exist_ok=True)
    (digits_stub / "__pycache__" / "x.pyc").write_bytes(b"x")
    (digits_stub / ".envrc").write_text("x")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    build.assemble(project.load(digits_stub), ctx, "lit-base:test", None)
    code = {p.relative_to(ctx / "code").as_posix() for p in (ctx / "code").rglob("*") if p.is_file()}
    assert {"lit.toml", "labels.txt", "service.py", ".envrc"} <= code
    assert not any(c.startswith(("model/", "heldout/", "__pycache__")) or c == "train.py" for c in code)
    assert sorted(p.name for p in (ctx / "model").iterdir()) == ["digits-0000.params", "digits-symbol.json"]
    assert not (ctx / "ca-bundle.crt").exists(), "no CA bundle in a context that installs nothing"


def test_runtime_digest_ignores_install_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from lit import assets, base

    copy = tmp_path / "runtime"
    shutil.copytree(assets.path("runtime"), copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    monkeypatch.setattr(assets, "path", lambda name: copy)
    before = base.runtime_digest()
    (copy / "lit_runtime.egg-info").mkdir()
    (copy / "lit_runtime.egg-info" / "SOURCES.txt").write_text("/somewhere/else\n")
    assert base.runtime_digest() == before
    (copy / "lit_runtime" / "app.py").write_text((copy / "lit_runtime" / "app.py").read_text() + "\n# changed\n")
    assert base.runtime_digest() != before


def test_symlinks_inside_are_followed_and_outside_are_refused(digits_stub: Path, tmp_path: Path) -> None:
    from lit.errors import ConfigError

    (digits_stub / "notes").mkdir()
    (digits_stub / "notes" / "a.txt").write_text("inside")
    (digits_stub / "linked.txt").symlink_to(digits_stub / "notes" / "a.txt")
    (digits_stub / "linked-dir").symlink_to(digits_stub / "notes")
    (digits_stub / "loop").symlink_to(digits_stub)  # a link back up the tree is walked once
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    build.assemble(project.load(digits_stub), ctx, "lit-base:test", None)
    files = [p for p in (ctx / "code").rglob("*") if p.is_file() or p.is_symlink()]
    assert not any(p.is_symlink() for p in files), "the image holds files, never links"
    assert (ctx / "code" / "linked.txt").read_text() == "inside"
    assert (ctx / "code" / "linked-dir" / "a.txt").read_text() == "inside", "a linked folder is not left out"

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host.txt").write_text("a host file")
    (digits_stub / "host.txt").symlink_to(outside / "host.txt")
    ctx2 = tmp_path / "ctx2"
    ctx2.mkdir()
    with pytest.raises(ConfigError, match=r"host.txt is a symlink to .*outside the project") as err:
        build.assemble(project.load(digits_stub), ctx2, "lit-base:test", None)
    assert err.value.exit_code == 2 and "[build] exclude" in err.value.fix
    config = digits_stub / "lit.toml"
    config.write_text(config.read_text().replace("exclude = [", 'exclude = ["host.txt", '))
    ctx3 = tmp_path / "ctx3"
    ctx3.mkdir()
    build.assemble(project.load(digits_stub), ctx3, "lit-base:test", None)
    assert not (ctx3 / "code" / "host.txt").exists()
