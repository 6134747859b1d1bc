"""The task examples, trained here and served through the RIE, with their quality measured there and
compared with the figure their training script measured in process (they must agree):
- images/text-embed: a sentence encoder (task embed), same-topic precision@5 of held-out fortunes
  against a TF-IDF baseline;
- images/shapes-detect: a YOLO-layout detector (task detect), mAP@0.5 on held-out generated images."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker
from tests.conftest import EXPORT_PYTHON, ROOT
from tests.e2e.conftest import RUN_ID, copy_project, lit

pytestmark = pytest.mark.e2e
np = pytest.importorskip("numpy")


def trained(name: str, marker: str) -> Path:
    example = ROOT / "images" / name
    if not (example / marker).exists():
        # PyTorch lives in the export environment (scripts/setup.sh makes it)
        subprocess.run([str(EXPORT_PYTHON), str(example / "train.py")], check=True, capture_output=True, timeout=900)
    return example


def quality(example: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"quality_{example.name.replace('-', '_')}", example / "quality.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(port: int, event: dict[str, Any]) -> Any:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=300) as resp:
        return json.loads(resp.read())


def runtime_rss(port: int) -> int:
    """The VmRSS (MB) of the function's runtime process (the Python awslambdaric runs in), in the
    container that serves `port`."""
    cid = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"publish={port}"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    script = (
        "import os\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
        "    if cmd.split(b'\\0')[0].endswith(b'python') and b'awslambdaric' in cmd:\n"
        "        print([l for l in open(f'/proc/{pid}/status') if l.startswith('VmRSS')][0].split()[1])\n"
    )
    out = subprocess.run(
        ["docker", "exec", cid, "/opt/lit/bin/python", "-c", script], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[0]) // 1024


@pytest.fixture()
def served(docker: Docker, ort_base_image: str, running: Any, tmp_path: Path) -> Any:
    built: list[tuple[Path, str]] = []

    def _served(example: Path) -> tuple[int, Path, str]:
        root = copy_project(example, tmp_path / example.name, f"{example.name}-t{RUN_ID}")
        built.append((root, json.loads(lit("build", str(root), "--base", ort_base_image, "--json").stdout)["image"]))
        return running(root, "--image", built[-1][1]), root, built[-1][1]

    yield _served
    for root, image in built:  # its containers first (this teardown runs before `running`'s)
        lit("stop", str(root), check=False)
        docker.remove_image(image)
        assert docker.image(image) is None, f"{image} was left behind"


def test_the_sentence_encoder_retrieves_same_topic_texts_through_the_rie(served: Any) -> None:
    example = trained("text-embed", "heldout.json")
    held = json.loads((example / "heldout.json").read_text())
    port, root, image = served(example)
    vectors: list[list[float]] = []
    for start in range(0, len(held["texts"]), 64):
        vectors += invoke(port, {"texts": held["texts"][start : start + 64]})["predictions"]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5), "normalize = true"
    got = quality(example).precision_at_k(np.asarray(vectors), held["labels"], 5)
    figures = held["precision_at_5"]
    print(
        f"precision@5: {got:.4f} through the RIE, {figures['model_in_process']:.4f} in process, TF-IDF {figures['tfidf']:.4f}"
    )
    assert got == pytest.approx(figures["model_in_process"], abs=1e-3)
    assert got > figures["tfidf"]
    # a batch as .npy: the same vectors
    answer = invoke(port, {"texts": held["texts"][:64], "accept": "npy"})
    array = np.load(__import__("io").BytesIO(base64.b64decode(answer["npy"])))
    assert np.abs(array - np.asarray(vectors[:64])).max() <= 1e-6

    # at its 1,024 MB the function never dies of its input: past the cap is refused, the largest
    # allowed request and a 5.9 MB text are answered, and it goes on answering as before
    refused = invoke(port, {"texts": ["the stock market fell sharply today"] * 10_000})
    assert "over the cap of 4096" in refused["errorMessage"]
    before = runtime_rss(port)
    largest = invoke(port, {"texts": ["the stock market fell sharply today"] * 4096, "accept": "npy"})
    assert largest["arrays"]["embeddings"]["shape"] == [4096, 64]
    grown = runtime_rss(port) - before
    assert grown < 60, f"the runtime kept {grown} MB after the largest request (ONNX Runtime's arena, the batch)"
    assert len(invoke(port, {"text": "word " * 1_180_000})["predictions"]) == 1
    again = invoke(port, {"texts": held["texts"][:64]})["predictions"]
    assert np.abs(np.asarray(again) - np.asarray(vectors[:64])).max() <= 1e-6

    # `lit eval` on the held-out file gives the figure measured in process
    report = json.loads(
        lit("eval", str(root), "--data", str(example / "heldout.json"), "--image", image, "--json").stdout
    )
    assert report["candidate"]["task"] == "embed" and report["candidate"]["metric"] == "precision@5"
    assert report["candidate"]["value"] == pytest.approx(figures["model_in_process"], abs=1e-3)


def test_the_shape_detector_finds_held_out_shapes_through_the_rie(served: Any) -> None:
    example = trained("shapes-detect", "heldout/labels.json")
    held = json.loads((example / "heldout" / "labels.json").read_text())
    port, root, image = served(example)
    names = sorted(held["images"])
    predictions: list[Any] = []
    for start in range(0, len(names), 20):
        batch = [base64.b64encode((example / "heldout" / n).read_bytes()).decode() for n in names[start : start + 20]]
        predictions += invoke(port, {"images": batch})["predictions"]
    truths = [held["images"][n] for n in names]
    got = quality(example).map50(predictions, truths)
    print(f"mAP@0.5: {got:.4f} through the RIE, {held['map50']['in_process']:.4f} in process, {len(names)} images")
    assert got == pytest.approx(held["map50"]["in_process"], abs=0.01)
    assert got > 0.5
    assert {d["label"] for image in predictions for d in image} <= set(held["classes"])

    # `lit eval` on the held-out folder gives the same mAP, sending 8 images a request
    data = example / "heldout"
    report = json.loads(lit("eval", str(root), "--data", str(data), "--image", image, "--batch", "8", "--json").stdout)
    assert report["candidate"]["task"] == "detect" and report["candidate"]["examples"] == len(names)
    assert report["candidate"]["value"] == pytest.approx(got, abs=1e-6)


@pytest.mark.parametrize(
    ("name", "marker", "task"),
    [("text-embed", "heldout.json", "embed"), ("shapes-detect", "heldout/labels.json", "detect")],
)
def test_lit_init_from_each_examples_export_answers_with_no_edits(
    name: str, marker: str, task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lit import project
    from tests.conftest import start_app

    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    example = trained(name, marker)
    root = tmp_path / f"{name}-init"
    lit("init", str(root), "--from", str(example / "model"))
    assert project.load(root).task == task
    app = start_app(root)
    if task == "embed":
        texts = json.loads((example / "heldout.json").read_text())["texts"][:3]
        assert len(app.handle({"texts": texts})["predictions"]) == 3
    else:
        png = sorted((example / "heldout").glob("*.png"))[0].read_bytes()
        (found,) = app.handle({"image": base64.b64encode(png).decode()})["predictions"]
        assert found and all(d["score"] >= 0.25 for d in found)
