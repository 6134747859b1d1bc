"""Today's models on the ONNX Runtime engine, built and answered through the RIE: a CNN from
PyTorch's default exporter, a transformer text classifier (default exporter and legacy opset 17),
an MXNet checkpoint exported at build time; and engines that cannot run a model say so."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker, RunSpec
from tests.conftest import EXPORT_PYTHON, ROOT, heldout
from tests.e2e.conftest import RUN_ID, copy_project, lit
from tests.fixtures import onnx_models

pytestmark = pytest.mark.e2e
CNN = ROOT / "images" / "cnn-onnx"
TEXT = ROOT / "images" / "text-topics"


def trained(project: Path, *outputs: str, args: tuple[str, ...] = ()) -> None:
    """Run the example's train.py (PyTorch + the default ONNX exporter, in the export venv) unless
    its outputs are there."""
    if all((project / name).exists() for name in outputs) and not args:
        return
    if not EXPORT_PYTHON.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the export environment {EXPORT_PYTHON} (scripts/setup.sh makes it)")
        pytest.skip(f"no export environment at {EXPORT_PYTHON}; run scripts/setup.sh")
    subprocess.run([str(EXPORT_PYTHON), str(project / "train.py"), *args], check=True, capture_output=True)


def invoke(port: int, event: Any) -> Any:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.loads(resp.read())


def no_mxnet(docker: Docker, image: str) -> None:
    proc = docker.run_once(RunSpec(image, ("-c", "import mxnet"), network="none", entrypoint="/opt/lit/bin/python"))
    assert proc.returncode != 0 and "No module named 'mxnet'" in proc.stderr, "an ONNX Runtime image carries no MXNet"


def npy_b64(array: Any) -> str:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def cnn_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trained(CNN, "model/cnn.onnx", "model/cnn.onnx.data", "samples.json")
    return copy_project(CNN, tmp_path_factory.mktemp("cnn") / "p", f"cnn-t{RUN_ID}")


@pytest.fixture(scope="module")
def text_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trained(TEXT, "model/topics.onnx", "model/tokenizer.json", "heldout.json", "labels.txt")
    return copy_project(TEXT, tmp_path_factory.mktemp("text") / "p", f"text-t{RUN_ID}")


def test_cnn_from_the_default_exporter_answers_as_pytorch(
    docker: Docker, ort_base_image: str, cnn_project: Path, running
) -> None:
    import numpy as np

    samples = json.loads((cnn_project / "samples.json").read_text())
    assert samples["opset"] >= 18 and (cnn_project / "model" / "cnn.onnx.data").is_file()
    image = json.loads(lit("build", str(cnn_project), "--base", ort_base_image, "--json").stdout)["image"]
    try:
        no_mxnet(docker, image)
        port = running(cnn_project, "--image", image)
        want = np.array(samples["torch_outputs"])
        as_json = np.array(invoke(port, {"inputs": samples["inputs"]})["predictions"])
        as_npy = np.array(invoke(port, {"npy": npy_b64(np.array(samples["inputs"], np.float32))})["predictions"])
        url_event = {
            "version": "2.0",
            "rawPath": "/",
            "requestContext": {"http": {"method": "POST"}, "domainName": "abc.lambda-url.us-east-1.on.aws"},
            "headers": {"content-type": "application/x-npy"},
            "body": npy_b64(np.array(samples["inputs"][:4], np.float32)),
            "isBase64Encoded": True,
        }
        answer = invoke(port, url_event)
        print(
            f"max |ONNX Runtime via LIT - PyTorch|: json {np.abs(as_json - want).max():.2e}, "
            f"npy {np.abs(as_npy - want).max():.2e}"
        )
        assert np.abs(as_json - want).max() <= 1e-4 and np.abs(as_npy - want).max() <= 1e-4
        assert answer["statusCode"] == 200
        assert np.abs(np.array(json.loads(answer["body"])["predictions"]) - want[:4]).max() <= 1e-4
        url_event["body"] = base64.b64encode(b"\x93NUMPY\x01\x00").decode()
        bad = invoke(port, url_event)
        assert bad["statusCode"] == 400 and "npy" in json.loads(bad["body"])["error"]["message"]
    finally:
        lit("stop", str(cnn_project), check=False)
        docker.remove_image(image)


def test_the_mxnet_engine_names_what_it_cannot_import_and_the_engine_that_can(
    base_image: tuple[str, str], cnn_project: Path, tmp_path: Path
) -> None:
    project = copy_project(cnn_project, tmp_path / "mx", f"cnnmx-t{RUN_ID}")
    toml = project / "lit.toml"
    toml.write_text(toml.read_text().replace('format = "onnx"', 'format = "onnx"\nengine = "mxnet"', 1))
    proc = lit("build", str(project), "--base", base_image[0], "-q", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "ReduceMean" in proc.stderr and "ONNX opset" in proc.stderr
    assert 'engine = "onnxruntime"' in proc.stderr


def test_onnx_runtime_names_an_operator_it_cannot_run(ort_base_image: str, cnn_project: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    project = copy_project(cnn_project, tmp_path / "bad", f"badop-t{RUN_ID}")
    for path in (project / "model").iterdir():
        path.unlink()
    onnx_models.unknown_operator(project / "model" / "bad.onnx", opset=17)
    proc = lit("build", str(project), "--base", ort_base_image, "-q", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "NoSuchOp" in proc.stderr and "opset 17" in proc.stderr


def test_an_mxnet_checkpoint_served_by_onnx_runtime(
    docker: Docker,
    base_image: tuple[str, str],
    ort_base_image: str,
    digits_project: Path,
    digits_image: str,
    running,
    tmp_path: Path,
) -> None:
    project = copy_project(digits_project, tmp_path / "d", f"digits-ort-t{RUN_ID}")
    toml = project / "lit.toml"
    toml.write_text(toml.read_text().replace('format = "mxnet"', 'format = "mxnet"\nengine = "onnxruntime"', 1))
    assert 'engine = "onnxruntime"' in toml.read_text()
    env = {"LIT_BASE_IMAGE": base_image[0]}  # the export stage runs on the MXNet base
    out = json.loads(lit("build", str(project), "--base", ort_base_image, "--json", env=env).stdout)
    image = out["image"]
    try:
        no_mxnet(docker, image)
        files = docker.run_once(RunSpec(image, ("/var/task/model",), network="none", entrypoint="ls")).stdout.split()
        assert "lit-parity.npz" in files and "lit-optimized.onnx" in files
        assert out["size"] < (docker.image(digits_image) or {})["Size"]
        scan = json.loads(lit("scan", image, "--json").stdout)  # the export stage's pip had the CA
        assert scan["findings"] == [] and scan["unscanned"] == []
        port = running(project, "--image", image)
        cases = heldout(project)
        right = 0
        for path, label in cases:
            answer = invoke(port, {"image": base64.b64encode(path.read_bytes()).decode()})
            right += int(answer["predictions"][0][0]["label"]) == label
        print(f"digits exported to ONNX, on ONNX Runtime: {right}/{len(cases)} held-out digits right")
        assert right / len(cases) >= 0.95
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)


def softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


def check_text_image(docker: Docker, project: Path, image: str, running) -> None:
    held = json.loads((project / "heldout.json").read_text())
    labels = (project / "labels.txt").read_text().split()
    no_mxnet(docker, image)
    port = running(project, "--image", image)
    right, worst = 0, 0.0
    for start in range(0, len(held["texts"]), 32):
        texts = held["texts"][start : start + 32]
        answer = invoke(port, {"texts": texts})
        assert "predictions" in answer, answer
        for i, top in enumerate(answer["predictions"]):
            right += labels.index(top[0]["label"]) == held["labels"][start + i]
            if start + i < len(held["torch_logits"]):
                want = softmax(held["torch_logits"][start + i])
                worst = max(worst, max(abs(p["probability"] - want[p["index"]]) for p in top))
    one = invoke(port, {"text": held["texts"][0]})["predictions"][0]
    assert one[0]["probability"] == pytest.approx(softmax(held["torch_logits"][0])[one[0]["index"]], abs=1e-4)
    accuracy = right / len(held["texts"])
    print(
        f"text through the RIE: accuracy {accuracy:.4f} (PyTorch in process {held['accuracy']:.4f}), "
        f"max |p - p_torch| {worst:.2e}"
    )
    assert worst <= 1e-4
    assert abs(accuracy - held["accuracy"]) <= 1 / len(held["texts"]) + 1e-9


def test_text_classifier_from_the_default_exporter_answers_raw_strings(
    docker: Docker, ort_base_image: str, text_project: Path, running
) -> None:
    image = json.loads(lit("build", str(text_project), "--base", ort_base_image, "--json").stdout)["image"]
    try:
        check_text_image(docker, text_project, image, running)
    finally:
        lit("stop", str(text_project), check=False)
        docker.remove_image(image)


def test_text_classifier_from_the_legacy_exporter_at_opset_17(
    docker: Docker, ort_base_image: str, text_project: Path, running, tmp_path: Path
) -> None:
    project = copy_project(text_project, tmp_path / "legacy", f"text17-t{RUN_ID}")
    trained(project, args=("--legacy", "--out", str(project / "legacy")))  # the same weights (seeded)
    shutil.rmtree(project / "model")
    (project / "legacy").rename(project / "model")
    image = json.loads(lit("build", str(project), "--base", ort_base_image, "--json").stdout)["image"]
    try:
        meta = docker.run_once(RunSpec(image, ("/var/task/model/lit-model.json",), network="none", entrypoint="cat"))
        assert json.loads(meta.stdout)["opset"] == 17
        check_text_image(docker, project, image, running)
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)


def test_a_new_model_leaves_no_stale_build_stage(
    docker: Docker, ort_base_image: str, cnn_project: Path, tmp_path: Path
) -> None:
    name = f"stages-t{RUN_ID}"
    project = copy_project(cnn_project, tmp_path / "st", name)
    args = ("build", str(project), "--base", ort_base_image, "--json")

    def stages() -> list[tuple[str, list[str]]]:
        return [(i["Id"], i.get("RepoTags") or []) for i in docker.labelled(f"lit.project={name}")]

    try:
        lit(*args)
        first = stages()
        assert [tags for _, tags in first] == [[f"lit-cache:{name}-optimize"]], "one optimise stage, named, kept"
        (project / "handler_notes.txt").write_text("code only\n")
        lit(*args)
        assert stages() == first, "a code-only rebuild reuses the stage"
        (project / "model" / "README.txt").write_text("a new model version\n")
        lit(*args)
        latest = stages()
        assert len(latest) == 1 and latest != first, "the old model's stage is gone, the new one kept"
        assert latest[0][1] == [f"lit-cache:{name}-optimize"], "the name moved to the new stage"
        assert docker.dangling(f"lit.project={name}") == [], "no stage is left untagged"
        assert docker.dangling(f"lit.function={name}") == [], "the images the rebuilds replaced are gone"
    finally:
        docker.remove_image(f"lit-{name}:latest")
        lit("cache", "rm", str(project), check=False)


def test_the_onnx_runtime_base_keeps_every_guarantee_of_the_mxnet_one(
    docker: Docker, base_image: tuple[str, str], ort_base_image: str, tmp_path: Path
) -> None:
    """No CA bundle in any layer (the build's was marked), nothing for lit scan, the same
    entrypoint contract, its engine labelled, numpy 2, Pillow for images, and no MXNet or OpenCV."""
    info = docker.image(ort_base_image) or {}
    config = info.get("Config", {})
    assert (
        config.get("Entrypoint") == ["/lambda-entrypoint.sh"]
        and config.get("Labels", {})["lit.engine"] == "onnxruntime"
    )
    imports = (
        "import importlib.util, onnxruntime, numpy, PIL.Image, tokenizers, awslambdaric, lit_runtime.app;"
        "assert importlib.util.find_spec('cv2') is None; print(numpy.__version__)"
    )
    probe = docker.run_once(RunSpec(ort_base_image, ("-c", imports), network="none", entrypoint="/opt/lit/bin/python"))
    assert probe.returncode == 0 and probe.stdout.startswith("2."), probe.stderr
    rie = docker.run_once(RunSpec(ort_base_image, ("/usr/local/bin/aws-lambda-rie",), network="none", entrypoint="ls"))
    assert rie.returncode == 0
    no_mxnet(docker, ort_base_image)
    scan = json.loads(lit("scan", ort_base_image, "--json").stdout)
    assert scan["findings"] == [] and scan["unscanned"] == []
    archive = tmp_path / "base.tar"
    subprocess.run([docker.binary, "save", "-o", str(archive), ort_base_image], check=True)
    needle = base_image[1].encode()  # the marker put into the bundle handed to pip
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=outer.extractfile(member)) as layer:
                    for entry in layer.getmembers():
                        if entry.isfile() and entry.size < 50_000_000:
                            data = layer.extractfile(entry)
                            assert data is not None and needle not in data.read(), entry.name
