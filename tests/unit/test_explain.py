"""A failed `lit build` said in the user's terms: the build-time tools report through result lines,
so a tool's success never reads as a failure, and pip's own conflict is named as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit import build
from lit.errors import EngineError
from lit.project import load

pytestmark = pytest.mark.unit


def result(tool: str, error: str | None = None, **figures: object) -> str:
    doc = {"tool": tool, "ok": error is None, **({"error": error} if error else figures)}
    return "\x1b[91m" + "lit-result " + json.dumps(doc) + "\x1b[0m"  # as the classic builder colours a step's output


@pytest.fixture()
def onnx_project(digits_stub: Path) -> Path:
    config = digits_stub / "lit.toml"
    config.write_text(config.read_text().replace('format = "mxnet"', 'format = "onnx"'))
    (digits_stub / "model" / "cnn.onnx").write_bytes(b"x")
    (digits_stub / "requirements.txt").write_text("numpy==1.23.5\nnumpy==2.2.0\n")
    return digits_stub


def test_a_pip_conflict_after_the_models_success_is_a_pip_conflict(onnx_project: Path) -> None:
    """The issue's case: the model optimised fine, then pip could not install the requirements."""
    project = load(onnx_project)
    log = [
        "Step 5/9 : RUN python -m lit_runtime.onnxrt optimize ...",
        result("onnx", source="cnn.onnx", opset=20, optimize_ms=7.1),
        "onnx: cnn.onnx (opset 20) optimised in 7.1 ms",
        "Step 6/9 : RUN pip install -r requirements.txt",
        "\x1b[91mERROR: Cannot install numpy==1.23.5 and numpy==2.2.0 because these package versions have conflicting dependencies.\x1b[0m",
    ]
    err = build._explain(project, log)
    assert str(project.requirements) in err.what and "Cannot install numpy==1.23.5" in err.what
    assert "onnxruntime 1.32 with numpy 2.2" in err.what and "pin versions" in err.fix
    assert "opset" not in err.what and "re-export" not in err.fix


@pytest.mark.parametrize(
    ("tool", "said", "fix"),
    [
        ("onnx", "cnn.onnx: opset 30 is newer than this ONNX Runtime runs", "re-export the model"),
        ("convert", "operator Erf (ONNX opset 13) is not supported", 'engine = "onnxruntime"'),
        ("export", "operator Custom has no ONNX form", "keep it on MXNet"),
    ],
)
def test_a_tools_failure_is_named_with_its_fix(digits_stub: Path, tool: str, said: str, fix: str) -> None:
    log = [result("onnx", source="a.onnx"), result(tool, said), f"{tool} failed: {said}", "The command returned 1"]
    err = build._explain(load(digits_stub), log)
    assert said in err.what and fix in err.fix


def test_success_lines_alone_are_no_cause(digits_stub: Path) -> None:
    log = [result("onnx", source="a.onnx"), "onnx: a.onnx (opset 17) optimised", "some other step failed"]
    err = build._explain(load(digits_stub), log)
    assert isinstance(err, EngineError) and "docker build failed" in err.what and "some other step failed" in err.what
    assert build.tool_failures(log + ["lit-result {not json"]) == {}
