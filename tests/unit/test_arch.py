"""Architectures without Docker: emulation readiness from binfmt_misc entries, ELF headers, base
tags per architecture, the emulated bench's report, and deploy's refusal of a mismatched image."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import Mock

import pytest

from lit import arch, aws, base, bench, deploy, plan, project, push, rie
from lit.docker import Docker
from lit.errors import LitError

pytestmark = pytest.mark.unit
URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-digits@sha256:" + "b" * 64
FOREIGN = "arm64" if arch.host() == "x86_64" else "x86_64"
QEMU = {"arm64": "qemu-aarch64", "x86_64": "qemu-x86_64"}[FOREIGN]


def binfmt(root: Path, entry: str | None) -> Path:
    """A binfmt_misc directory as the kernel shows it: a status file and one file per interpreter."""
    root.mkdir()
    (root / "status").write_text("enabled\n")
    if entry is not None:
        (root / QEMU).write_text(entry)
    return root


REGISTERED = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\noffset 0\n"


def test_the_host_needs_no_emulation(tmp_path: Path) -> None:
    assert arch.emulation_problem(arch.host(), tmp_path / "absent") is None
    assert arch.note(arch.host()) is None


def test_a_foreign_architecture_needs_a_registered_enabled_interpreter_with_the_f_flag(tmp_path: Path) -> None:
    assert "not mounted" in (arch.emulation_problem(FOREIGN, tmp_path / "absent") or "")
    assert f"{QEMU} is missing" in (arch.emulation_problem(FOREIGN, binfmt(tmp_path / "a", None)) or "")
    disabled = REGISTERED.format(flags="PF").replace("enabled", "disabled", 1)
    assert "disabled" in (arch.emulation_problem(FOREIGN, binfmt(tmp_path / "b", disabled)) or "")
    assert "F flag" in (arch.emulation_problem(FOREIGN, binfmt(tmp_path / "c", REGISTERED.format(flags="P"))) or "")
    assert arch.emulation_problem(FOREIGN, binfmt(tmp_path / "d", REGISTERED.format(flags="PF"))) is None
    assert "timings say nothing" in (arch.note(FOREIGN) or "")


def test_docker_architecture_names_become_lambdas() -> None:
    assert [arch.name(n) for n in ("amd64", "x86_64", "arm64", "aarch64")] == ["x86_64", "x86_64", "arm64", "arm64"]
    assert arch.of_image({"Architecture": "arm64", "Os": "linux"}) == "arm64"


def elf(path: Path, machine: int, size: int = 0) -> Path:
    header = b"\x7fELF\x02\x01\x01" + bytes(11) + machine.to_bytes(2, "little")
    path.write_bytes(header + bytes(size))
    return path


def test_elf_headers_name_the_architecture(tmp_path: Path) -> None:
    assert rie.elf_arch(elf(tmp_path / "a", 0xB7)) == "arm64"
    assert rie.elf_arch(elf(tmp_path / "x", 0x3E)) == "x86_64"
    assert rie.elf_arch(elf(tmp_path / "r", 0xF3)) == "machine 0xf3"
    (tmp_path / "text").write_text("#!/bin/sh\n")
    assert rie.elf_arch(tmp_path / "text") is None
    assert rie.elf_arch(Path("/bin/sh")) == arch.host()  # a real binary of this machine


def test_lit_rie_for_another_architecture_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LIT_RIE", str(elf(tmp_path / "rie-x86", 0x3E, 1_100_000)))
    assert rie.locate("x86_64") == tmp_path / "rie-x86"
    assert rie.locate("arm64") is None  # not the x86 binary in an arm64 image
    monkeypatch.setenv("LIT_RIE", str(tmp_path / "not-elf"))
    (tmp_path / "not-elf").write_text("no")
    with pytest.raises(LitError, match="not an emulator binary"):
        rie.locate("arm64")


def test_base_tags_per_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LIT_BASE_IMAGE", "LIT_BASE_IMAGE_ARM64", "LIT_BASE_IMAGE_ONNXRUNTIME_ARM64"):
        monkeypatch.delenv(var, raising=False)
    assert base.default_tag("mxnet") == "lit-base:py3.11"
    assert base.default_tag("mxnet", "arm64") == "lit-base:py3.11-arm64"
    assert base.default_tag("onnxruntime", "arm64") == "lit-base:py3.11-onnxruntime-arm64"
    monkeypatch.setenv("LIT_BASE_IMAGE_ONNXRUNTIME_ARM64", "mine:ort-arm")
    assert base.default_tag("onnxruntime", "arm64") == "mine:ort-arm"
    assert base.default_tag("onnxruntime") == "lit-base:py3.11-onnxruntime"


def emulated_report() -> bench.Report:
    report = bench.Report("lit-digits:latest", 520.0, [], "arm64", price_gb_second=0.0000133334)
    report.emulation = arch.EMULATION_NOTE.format(host="x86_64", arch="arm64")
    report.reason = "timings under emulation say nothing about Lambda: run `lit bench` on an arm64 machine"
    report.results = [bench.SizeResult(1024, 0.579, max_memory_mb=181.0, answered=21, invokes=21)]
    return report


def test_an_emulated_bench_reports_answers_memory_and_price_and_no_timings() -> None:
    out = bench.text(emulated_report())
    assert "21/21" in out and "181" in out and "$0.0000133334 per GB-second" in out
    assert "p99" not in out and "$ per 1M" not in out and "no recommendation" in out


def test_plan_refuses_bench_results_measured_under_emulation(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(emulated_report().to_dict()))
    with pytest.raises(LitError, match="under emulation") as err:
        plan.read_figures(path)
    assert "arm64 machine" in err.value.fix


def clients() -> deploy.Clients:
    return deploy.Clients(Mock(spec=aws.LambdaClient), Mock(spec=aws.IAMClient), "123456789012", "us-east-1")


def test_deploy_refuses_an_image_of_another_architecture(digits_stub: Path) -> None:
    proj = project.load(digits_stub)  # x86_64, lit.toml's default
    with pytest.raises(LitError, match="is an arm64 image, but lit.toml's") as err:
        deploy.desired(proj, clients(), URI, None, "live", None, "arm64")
    assert err.value.exit_code == 2 and 'architecture = "arm64"' in err.value.fix
    assert deploy.desired(proj, clients(), URI, None, "live", None, "x86_64").architecture == "x86_64"
    assert deploy.desired(proj, clients(), URI, None, "live", None, None).architecture == "x86_64"


def test_a_pushed_images_architecture_comes_from_the_push_record(digits_stub: Path) -> None:
    proj = project.load(digits_stub)
    assert push.architecture_of(None, proj, URI) is None
    record = digits_stub / push.RECORD
    record.parent.mkdir(exist_ok=True)
    fields = {"image": "r/lit-digits:t", "digest": "sha256:" + "b" * 64, "uri": URI, "registry": "r"}
    record.write_text(json.dumps({**fields, "repository": "lit-digits", "tag": "t", "uploaded_layers": 3}))
    assert push.architecture_of(None, proj, URI) is None  # a record from before architectures were kept
    record.write_text(json.dumps({**json.loads(record.read_text()), "architecture": "arm64"}))
    assert push.architecture_of(None, proj, URI) == "arm64"
    assert push.architecture_of(None, proj, URI.replace("b" * 64, "c" * 64)) is None


def test_the_onnxruntime_base_is_refused_under_emulation_with_the_way_out() -> None:
    with pytest.raises(LitError, match="does not run under QEMU user emulation") as err:
        base.build(Docker(), engine="onnxruntime", architecture=FOREIGN)  # refused before any docker call
    assert f"on an {FOREIGN} machine" in err.value.fix and 'engine = "mxnet"' in err.value.fix
