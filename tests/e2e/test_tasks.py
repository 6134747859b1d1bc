"""Serve any model, end to end: models from PyTorch's default exporter, built from lit.toml alone (or
from `lit init --from`), answer through the RIE what PyTorch computes: a pooled vector per text, every
output of a detector and of a two-output model by name, and a batch-1 export fed several texts."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker
from tests.conftest import torch_project
from tests.e2e.conftest import RUN_ID, lit

pytestmark = pytest.mark.e2e
np = pytest.importorskip("numpy")
TOLERANCE = 1e-4


def invoke(port: int, event: dict[str, Any]) -> Any:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.loads(resp.read())


def worst(got: Any, want: Any) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    return float(np.abs(got - want).max())


@pytest.fixture()
def serve(docker: Docker, ort_base_image: str, running: Any) -> Any:
    """Build a project on the ONNX Runtime base and run it under the RIE: (port, build's stderr)."""
    built: list[tuple[Path, str]] = []

    def _serve(root: Path) -> tuple[int, str]:
        proc = lit("build", str(root), "--base", ort_base_image, "--json")
        built.append((root, json.loads(proc.stdout)["image"]))
        return running(root, "--image", built[-1][1]), proc.stderr

    yield _serve
    for root, image in built:  # its containers first (this teardown runs before `running`'s)
        lit("stop", str(root), check=False)
        docker.remove_image(image)
        assert docker.image(image) is None, f"{image} was left behind"


def header(name: str, kind: str, *lines: str) -> str:
    return (
        "\n".join(
            [f'name = "{name}-t{RUN_ID}"', "[model]", 'path = "model"', 'format = "onnx"', f'input = "{kind}"', *lines]
        )
        + "\n"
    )


def test_every_output_by_name_through_the_rie(torch_models: Path, tmp_path: Path, serve: Any) -> None:
    for name in ("detector", "two_outputs"):
        ref = np.load(torch_models / name / "reference.npz")
        root = torch_project(torch_models, name, tmp_path / name, header(name.replace("_", "-"), "tensor"))
        port, said = serve(root)
        assert "task raw" in said and "every output is answered by name" in said
        (key,) = [k for k in ref.files if k.startswith("input:")]
        got = invoke(port, {"inputs": ref[key].tolist()})["predictions"]
        # the contract the image states names every output the answer holds
        doc = json.loads(lit("schema", str(root)).stdout)
        item = doc["$defs"]["response"]["oneOf"][0]["properties"]["predictions"]["items"]
        assert doc["x-lit"]["task"] == "raw" and set(item["required"]) == set(got[0])
        assert json.loads(lit("schema", str(root), "--openapi").stdout)["openapi"] == "3.1.0"
        for out in (k.removeprefix("output:") for k in ref.files if k.startswith("output:")):
            diff = worst([row[out] for row in got], ref[f"output:{out}"])
            print(f"{name}.{out}: max |LIT via RIE - PyTorch| = {diff:.2e}")
            assert diff <= TOLERANCE


def test_an_encoder_and_a_batch_one_export_from_lit_init(torch_models: Path, tmp_path: Path, serve: Any) -> None:
    # the encoder: `lit init --from` writes task = "embed"
    ref = np.load(torch_models / "encoder" / "reference.npz")
    texts = [str(t) for t in ref["texts"]]
    root = tmp_path / f"enc-t{RUN_ID}"
    lit("init", str(root), "--from", str(torch_models / "encoder"))
    assert 'task = "embed"' in (root / "lit.toml").read_text()
    port, said = serve(root)
    assert "task embed: set in lit.toml" in said
    hidden, mask = ref["output:last_hidden_state"], ref["input:attention_mask"][:, :, None]
    want = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    diff = worst(invoke(port, {"texts": texts})["predictions"], want)
    print(f"encoder: max |pooled vector via RIE - PyTorch| = {diff:.2e}")
    assert diff <= TOLERANCE
    answer = invoke(port, {"texts": texts, "accept": "npy"})
    arrays = np.load(__import__("io").BytesIO(base64.b64decode(answer["npy"])))
    assert worst(arrays, want) <= TOLERANCE

    # the batch-1 classifier: several texts, and an SQS batch, are fed one at a time
    ref = np.load(torch_models / "batch1_classifier" / "reference.npz")
    root = tmp_path / f"b1-t{RUN_ID}"
    lit("init", str(root), "--from", str(torch_models / "batch1_classifier"))
    port, said = serve(root)
    assert "fixed batch of 1" in said
    logits = ref["per_text_logits"].astype(np.float64)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)

    def probabilities(rows: list[list[dict[str, Any]]]) -> list[list[float]]:
        return [[next(p["probability"] for p in row if p["index"] == c) for c in range(3)] for row in rows]

    assert worst(probabilities(invoke(port, {"texts": texts})["predictions"]), want) <= TOLERANCE
    sqs = json.loads((Path(__file__).parents[1] / "events" / "sqs-batch.json").read_text())
    record = sqs["Records"][0]
    sqs["Records"] = [
        {**record, "messageId": f"m{i}", "body": json.dumps({"text": text})} for i, text in enumerate(texts)
    ]
    answer = invoke(port, sqs)
    assert answer["batchItemFailures"] == []
    assert worst(probabilities([r["predictions"][0] for r in answer["results"]]), want) <= TOLERANCE


def test_a_yolo_export_from_lit_init_answers_detections(torch_models: Path, tmp_path: Path, serve: Any) -> None:
    import cv2

    root = tmp_path / f"yolo-t{RUN_ID}"
    lit("init", str(root), "--from", str(torch_models / "yolo"))
    port, said = serve(root)
    assert "task detect" in said
    png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8))[1].tobytes()
    (found,) = invoke(port, {"image": base64.b64encode(png).decode()})["predictions"]
    assert found and all(set(d) == {"box", "score", "class", "label"} and d["score"] >= 0.25 for d in found)
    assert all(0 <= d["box"][0] < d["box"][2] and d["box"][2] <= 96 * 1.5 for d in found), "in the caller's pixels"
