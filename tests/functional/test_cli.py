"""The CLI as users run it (a subprocess): help, exit codes, one clear message, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.conftest import ROOT, assert_clean_failure, lit

pytestmark = pytest.mark.functional


def _commands() -> list[str]:
    """Every command, as the Typer app declares it (so none can be left out of the checks below)."""
    from lit.cli import app

    def name(command: typer.models.CommandInfo) -> str:
        assert command.callback is not None
        return command.name or command.callback.__name__.replace("_", "-")

    found = [name(c) for c in app.registered_commands]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        found += [f"{group.name} {name(c)}" for c in group.typer_instance.registered_commands]
    return found


COMMANDS = _commands()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    proc = lit(*command.split(), "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout
    summary = re.sub(r"\s+", " ", proc.stdout)
    assert len(summary) > 100
    assert f"lit {command}" in (ROOT / "README.md").read_text()
    assert "--json" in proc.stdout, "every command can answer in JSON for scripts and CI"


def test_cli_does_not_import_heavy_modules() -> None:
    code = "import sys, lit.cli, lit.build, lit.local, lit.base, lit.plan, lit.simulate, lit.from_model, lit.schema; print(sorted(m for m in ('mxnet','numpy','cv2','onnx','onnxruntime','lit_runtime') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_no_engine_is_one_message(digits_model: Path) -> None:
    proc = lit("build", str(digits_model), env={"DOCKER_HOST": "unix:///tmp/lit-no-engine.sock"})
    assert_clean_failure(proc, 3, "Docker engine is not running")


def test_no_docker_command_is_one_message(digits_model: Path) -> None:
    proc = lit("run", str(digits_model), env={"LIT_DOCKER": "/nonexistent/docker"})
    assert_clean_failure(proc, 3, "docker command is not installed")


def test_malformed_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "lit.toml").write_text("name = 'x'\n[model\n")
    assert_clean_failure(lit("build", str(tmp_path)), 2, "not valid TOML")


def test_unknown_model_path(tmp_path: Path) -> None:
    (tmp_path / "lit.toml").write_text("name = 'x'\n[model]\npath = 'weights'\n")
    assert_clean_failure(lit("build", str(tmp_path)), 2, "model path 'weights' does not exist")


def test_init_scaffolds_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "My Func"
    proc = lit("init", str(target))
    assert proc.returncode == 0
    assert 'name = "my-func"' in (target / "lit.toml").read_text()
    assert (target / "service.py").is_file() and (target / "model").is_dir()
    compile((target / "service.py").read_text(), "service.py", "exec")
    assert_clean_failure(lit("init", str(target)), 1, "already exists")
    # the scaffold points at an empty model dir: the message says what to put there
    assert_clean_failure(lit("build", str(target)), 2, "symbol.json")


def test_invoke_rejects_bad_json_before_sending(digits_model: Path) -> None:
    assert_clean_failure(lit("invoke", str(digits_model), "-d", "{nope"), 1, "not valid JSON")


def test_version() -> None:
    proc = lit("--version")
    assert proc.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\n", proc.stdout)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench", "{p}", "--memory", "64,1024"], "--memory: memory sizes [64] are outside Lambda's 128..10240 MB"),
        (["bench", "{p}", "--memory", "big"], "--memory 'big' is not a list of numbers"),
        (["plan", "{p}", "--rps", "1", "--memory", "20000"], "outside Lambda's 128..10240 MB"),
        (["run", "{p}", "--memory", "50"], "--memory 50 is outside Lambda's 128..10240 MB"),
        (["run", "{p}", "--timeout", "901"], "--timeout 901 is outside Lambda's 1..900 s"),
    ],
)
def test_memory_and_timeout_flags_are_checked_against_lambdas_ranges_with_exit_2(
    digits_copy: Path, args: list[str], needle: str
) -> None:
    proc = lit(*[a.replace("{p}", str(digits_copy)) for a in args])
    assert_clean_failure(proc, 2, needle)


def _options(command: str) -> set[str]:
    """The --flags a command declares, as Typer builds them (its click command's parameters)."""
    from lit.cli import app

    group = typer.main.get_command(app)
    ctx = type(group).context_class(group)
    found: Any = group
    for word in command.split():
        found = found.get_command(ctx, word)
        assert found is not None, command
    return {opt for p in found.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}


def test_the_options_readme_gives_each_command_are_its_options() -> None:
    """README's command table names options per command: each one exists (a renamed or dropped flag
    cannot stay documented)."""
    rows = re.findall(
        r"^\| `lit ([a-z][a-z ]*?)(?: [A-Z.\[\]]+[^`]*)?` \| (.*) \|$", (ROOT / "README.md").read_text(), re.M
    )
    checked = 0
    for command, text in rows:
        command = command.strip()
        if command not in COMMANDS:
            continue
        own = re.sub(r"`lit [^`]*`", "", text)  # another command's invocation, quoted, names its own flags
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", own))
        missing = sorted(named - _options(command))
        assert not missing, f"README gives `lit {command}` {missing}, which it does not take"
        checked += len(named)
    assert len(rows) >= 20 and checked >= 20, (len(rows), checked)


# README's exit-code policy, one row per kind of mistake, across the commands that take it:
# 2 a wrong lit.toml or a bad flag value, 3 the engine, 4 AWS (1 a failure of the work itself).
NO_REGION = {"AWS_DEFAULT_REGION": "", "AWS_REGION": ""}  # (the autouse fixture hides any real credentials)
NO_PROFILE = {"AWS_PROFILE": "lit-no-such-profile"}
NO_ENGINE = {"DOCKER_HOST": "unix:///tmp/lit-no-engine.sock"}
POLICY = [
    # bad flags: 2, whichever command
    (["run", "{p}", "--memory", "64"], {}, 2, "--memory"),
    (["run", "{p}", "--concurrency", "99"], NO_ENGINE | {"LIT_DOCKER": sys.executable}, 2, "--concurrency"),
    (["run", "{p}", "--idle-reclaim", "soon"], {}, 2, "--idle-reclaim"),
    (["bench", "{p}", "--memory", "abc"], {}, 2, "--memory"),
    (["plan", "{p}", "--rps", "5", "--memory", "99999"], {}, 2, "--memory"),
    (["logs", "{p}", "--since", "yesterday"], NO_ENGINE, 2, "--since"),
    (["deploy", "{p}", "--canary", "10", "--image-uri", "x@sha256:" + "a" * 64], NO_REGION, 2, "--canary"),
    (["template", "{p}", "--linear", "150%:1m"], {}, 2, "--linear"),
    # a wrong lit.toml: 2
    (["build", "{bad}"], {}, 2, "top_k"),
    (["deploy", "{bad}"], NO_REGION, 2, "top_k"),
    (["eval", "{bad}", "--data", "{p}"], {}, 2, "top_k"),
    # the engine: 3
    (["build", "{p}"], NO_ENGINE, 3, "Docker engine is not running"),
    (["eval", "{p}", "--data", "{p}/heldout"], NO_ENGINE, 3, "Docker engine is not running"),
    # AWS: 4
    (["deploy", "{p}", "--image-uri", "x@sha256:" + "a" * 64], NO_REGION, 4, "no AWS region set"),
    (["status", "{p}"], NO_PROFILE, 4, "lit-no-such-profile"),
    (["logs", "{p}", "--remote"], NO_REGION, 4, "no AWS region set"),
]


@pytest.mark.parametrize(("args", "env", "code", "needle"), POLICY, ids=[" ".join(a[:3]) for a, *_ in POLICY])
def test_the_exit_code_policy_across_commands(
    digits_model: Path, tmp_path: Path, args: list[str], env: dict[str, str], code: int, needle: str
) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(digits_model, bad, ignore=shutil.ignore_patterns(".lit", "__pycache__"))
    (bad / "lit.toml").write_text((bad / "lit.toml").read_text().replace("top_k = 3", "top_k = 0"))
    filled = [a.format(p=digits_model, bad=bad) for a in args]
    assert_clean_failure(lit(*filled, env=env), code, needle)
