"""A PyTorch model through ONNX, built and served by LIT: outputs match PyTorch through the RIE."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from lit.docker import Docker, RunSpec
from tests.conftest import EXPORT_PYTHON, ROOT
from tests.e2e.conftest import RUN_ID, copy_project, lit
from tests.fixtures import onnx_models

pytestmark = pytest.mark.e2e
ONNX_PROJECT = ROOT / "images" / "digits-onnx"


@pytest.fixture(scope="module")
def onnx_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ONNX_PROJECT / "model" / "digits.onnx").is_file() or not (ONNX_PROJECT / "samples.json").is_file():
        # PyTorch lives in the export environment (scripts/setup.sh makes it), not in the main one
        subprocess.run([str(EXPORT_PYTHON), str(ONNX_PROJECT / "train_torch.py")], check=True, capture_output=True)
    return copy_project(ONNX_PROJECT, tmp_path_factory.mktemp("onnx") / "p", f"onnx-t{RUN_ID}")


def test_pytorch_outputs_match_through_the_rie(
    docker: Docker, base_image: tuple[str, str], onnx_project: Path, running
) -> None:
    out = json.loads(lit("build", str(onnx_project), "--base", base_image[0], "--json").stdout)
    try:
        spec = RunSpec(out["image"], ("-c", "import onnx"), network="none", entrypoint="/opt/lit/bin/python")
        proc = docker.run_once(spec)
        assert proc.returncode != 0 and "No module named 'onnx'" in proc.stderr, "the function image carries no onnx"
        scan = json.loads(lit("scan", out["image"], "--json").stdout)  # the convert stage's pip had the CA
        assert scan["findings"] == [] and scan["unscanned"] == []
        port = running(onnx_project, "--image", out["image"])
        samples = json.loads((onnx_project / "samples.json").read_text())
        body = json.dumps({"inputs": samples["inputs"]}).encode()
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=60) as resp:
            answer = json.loads(resp.read())
        got, want = answer["predictions"], samples["torch_outputs"]
        assert len(got) == len(want) == 16
        worst = max(abs(g - w) for grow, wrow in zip(got, want) for g, w in zip(grow, wrow))
        print(f"max |MXNet via LIT - PyTorch| over 16 inputs x 10 logits: {worst:.2e}")
        assert worst <= 1e-4
    finally:
        lit("stop", str(onnx_project), check=False)
        docker.remove_image(out["image"])


def test_unsupported_operator_fails_the_build_naming_it(
    base_image: tuple[str, str], onnx_project: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnx")
    project = copy_project(onnx_project, tmp_path / "erf", f"erf-t{RUN_ID}")
    (project / "model" / "digits.onnx").unlink()
    onnx_models.with_unsupported_op(project / "model" / "erf.onnx", opset=13)
    proc = lit("build", str(project), "--base", base_image[0], "-q", check=False)
    assert proc.returncode == 1
    assert "operator Erf (ONNX opset 13)" in proc.stderr and "Traceback" not in proc.stderr
