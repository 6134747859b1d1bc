"""`lit init --from`: a project made from each exported model builds its configuration and answers
in process with no edits; Hugging Face export folders give labels and normalisation; bad paths are named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lit import project
from tests.conftest import assert_clean_failure, lit, start_app

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

GUESSES = {
    "encoder": ("text", "embed"),
    "detector": ("image", "detect"),
    "two_outputs": ("tensor", "raw"),
    "batch1_classifier": ("text", "classify"),
    "yolo": ("image", "detect"),
}


def init_from(source: Path, root: Path, *extra: str) -> tuple[int, str, str]:
    proc = lit("init", str(root), "--from", str(source), *extra)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("name", sorted(GUESSES))
def test_a_project_from_each_export_answers_with_no_edits(
    torch_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    root = tmp_path / name.replace("_", "-")
    code, out, err = init_from(torch_models / name, root)
    assert code == 0, err
    kind, task = GUESSES[name]
    assert f'guessed input: "{kind}"' in err and f'guessed task: "{task}"' in err
    proj = project.load(root)
    assert (proj.input_kind, proj.task, proj.engine) == (kind, task, "onnxruntime")
    assert "# " in (root / "lit.toml").read_text().split('task = "')[1].splitlines()[0], "each guess says why"
    app = start_app(root)
    ref = np.load(torch_models / name / "reference.npz")
    if kind == "text":
        event = {"texts": [str(t) for t in ref["texts"]]}
    elif kind == "image":
        import base64

        import cv2

        png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))[1]
        event = {"image": base64.b64encode(png.tobytes()).decode()}
    else:
        event = {"inputs": ref["input:x"].tolist()}
    answer = app.handle(event)["predictions"]
    assert len(answer) == len(event.get("texts") or event.get("inputs") or [1])


def test_a_hugging_face_export_folder_gives_labels_and_normalisation(torch_models: Path, tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(torch_models / "detector", export)
    (export / "config.json").write_text(json.dumps({"id2label": {"1": "square", "0": "circle", "2": "triangle"}}))
    (export / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25], "rescale_factor": 1 / 255})
    )
    code, _, err = init_from(export, tmp_path / "hf")
    assert code == 0, err
    proj = project.load(tmp_path / "hf")
    assert (tmp_path / "hf" / "labels.txt").read_text().split() == ["circle", "square", "triangle"]
    assert proj.image.mean == (0.5, 0.5, 0.5) and proj.image.std == (0.25, 0.25, 0.25) and proj.image.scale == 255.0
    assert sorted(p.name for p in (tmp_path / "hf" / "model").iterdir()) == [
        "config.json",
        "model.onnx",
        "model.onnx.data",
    ]


def test_paths_that_are_not_a_model_are_named(tmp_path: Path, torch_models: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert_clean_failure(
        lit("init", str(tmp_path / "a"), "--from", str(tmp_path / "notes.txt")), 1, "not an .onnx file"
    )
    two = tmp_path / "two"
    two.mkdir()
    for n in ("a.onnx", "b.onnx"):
        shutil.copy(torch_models / "two_outputs" / "model.onnx", two / n)
    assert_clean_failure(lit("init", str(tmp_path / "b"), "--from", str(two)), 1, "a.onnx, b.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes((torch_models / "encoder" / "model.onnx").read_bytes()[:200])
    assert_clean_failure(lit("init", str(tmp_path / "c"), "--from", str(broken)), 1, "is not a readable ONNX model")
    assert not (tmp_path / "c" / "lit.toml").exists(), "nothing written for a model that cannot be read"
    assert init_from(torch_models / "encoder", tmp_path / "d")[0] == 0
    assert_clean_failure(lit("init", str(tmp_path / "d"), "--from", str(torch_models / "encoder")), 1, "already exists")


def test_an_mxnet_checkpoint_gives_a_project_that_asks_for_its_size(digits_model: Path, tmp_path: Path) -> None:
    code, _, err = init_from(digits_model / "model", tmp_path / "dg")
    assert code == 0, err
    proj = project.load(tmp_path / "dg")
    assert (proj.model_format, proj.engine, proj.input_kind) == ("mxnet", "mxnet", "image")
    text = (tmp_path / "dg" / "lit.toml").read_text()
    assert "size = [224, 224]" in text and "set the training size" in text
    assert sorted(p.name for p in (tmp_path / "dg" / "model").iterdir()) == ["digits-0000.params", "digits-symbol.json"]


def test_an_optimum_layout_with_the_graph_in_an_onnx_folder(
    torch_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    export = tmp_path / "export"
    (export / "onnx").mkdir(parents=True)
    for name in ("model.onnx", "model.onnx.data"):
        shutil.copy(torch_models / "encoder" / name, export / "onnx" / name)
    shutil.copy(torch_models / "encoder" / "tokenizer.json", export / "tokenizer.json")
    (export / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "max_position_embeddings": 64}))
    code, _, err = init_from(export, tmp_path / "opt")
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "opt" / "model").iterdir())
    assert files == ["config.json", "model.onnx", "model.onnx.data", "tokenizer.json"]
    assert "max_length = 64" in (tmp_path / "opt" / "lit.toml").read_text()
    assert len(start_app(tmp_path / "opt").handle({"texts": ["court", "bug bread"]})["predictions"]) == 2
