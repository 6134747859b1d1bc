"""The runtime in-process on ONNX Runtime: graphs as exported, int64 inputs, text, .npy, errors."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import batch_event, env_without, image_config, load_event, start_app
from tests.fixtures import onnx_models

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("tokenizers")

from lit_runtime import onnxrt  # noqa: E402
from lit_runtime.app import App  # noqa: E402
from lit_runtime.check import parity  # noqa: E402
from lit_runtime.errors import InputError, ModelError  # noqa: E402
from lit_runtime.settings import ConfigError  # noqa: E402

TEXT_TOML = """
name = "topics"
[model]
path = "model"
format = "onnx"
input = "text"
labels = "labels.txt"
top_k = 2
[text]
max_length = 8
"""


def project(root: Path, toml: str) -> Path:
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "lit.toml").write_text(toml)
    return root


@pytest.fixture()
def text_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    root = project(tmp_path / "topics", TEXT_TOML)
    onnx_models.bag_of_words_classifier(root / "model" / "topics.onnx")
    onnx_models.word_tokenizer(root / "model" / "tokenizer.json")
    (root / "labels.txt").write_text("\n".join(onnx_models.TOPICS) + "\n")
    return start_app(root)


def top(answer: dict) -> list[str]:
    return [p[0]["label"] for p in answer["predictions"]]


def test_text_answers_from_raw_strings_with_labels(text_app: App) -> None:
    assert text_app.ctx.settings.engine == "onnxruntime"
    assert [(p.name, p.dtype) for p in text_app.ctx.model.inputs] == [
        ("input_ids", "int64"),
        ("attention_mask", "int64"),
    ]
    answer = text_app.handle({"texts": ["The judge and the court", "A BUG in my code!", "bread, cheese and pasta"]})
    assert top(answer) == ["law", "computers", "food"]
    assert len(answer["predictions"][0]) == 2 and answer["predictions"][0][0]["probability"] > 0.5


def test_padding_does_not_change_the_answer(text_app: App) -> None:
    alone = text_app.handle({"text": "court"})["predictions"][0][0]["probability"]
    padded = text_app.handle({"texts": ["court", "court law judge code bug bread cheese"]})["predictions"][0]
    assert padded[0]["probability"] == pytest.approx(alone, abs=1e-6)


def test_text_past_max_length_is_truncated_and_padding_to_max_length_works(text_app: App, tmp_path: Path) -> None:
    long = " ".join(["pasta"] * 3 + ["court"] * 40)  # truncated at 8 tokens: 3 pasta, 5 court
    assert top(text_app.handle({"text": long})) == ["law"]
    batch = text_app.hooks["preprocess"]([long, "bug"], text_app.ctx)
    assert batch["input_ids"].shape == (2, 8) and batch["attention_mask"][1].tolist() == [1] + [0] * 7


def test_text_through_http_and_a_batch_trigger(text_app: App) -> None:
    event = load_event("apigw-http-json")
    event["headers"] = {"content-type": "text/plain"}
    event["body"], event["isBase64Encoded"] = "judge", False
    answer = text_app.handle(event)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["predictions"][0][0]["label"] == "law"
    sqs = batch_event("sqs-batch", [b"x", b"y", b"z"])
    bodies = [{"text": "pasta"}, {"text": 7}, {"texts": ["code bug", "cheese"]}]
    for record, body in zip(sqs["Records"], bodies):
        record["body"] = json.dumps(body)
    answer = text_app.handle(sqs)
    assert [r.get("predictions", [[{}]])[0][0].get("label") for r in answer["results"]] == ["food", None, "computers"]
    assert answer["batchItemFailures"] == [{"itemIdentifier": sqs["Records"][1]["messageId"]}]


def test_bad_text_is_a_client_error(text_app: App) -> None:
    for event in ({"text": ""}, {"texts": []}, {"text": ["a"]}, {"image": "x"}):
        with pytest.raises(InputError):
            text_app.handle(event)


def test_tensor_model_takes_npy_and_json_in_its_own_dtype(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    root = project(tmp_path / "ids", TEXT_TOML.replace('input = "text"', 'input = "tensor"').split("[text]")[0])
    onnx_models.bag_of_words_classifier(root / "model" / "bow.onnx")
    (root / "labels.txt").write_text("a\nb\nc\n")
    app = start_app(root)
    ids = np.array([[2, 3, 0], [8, 9, 0]], np.int64)
    mask = (ids > 0).astype(np.int64)
    want = app.handle({"inputs": [{"input_ids": i.tolist(), "attention_mask": m.tolist()} for i, m in zip(ids, mask)]})

    def npy(a: np.ndarray) -> str:
        buf = io.BytesIO()
        np.save(buf, a)
        return base64.b64encode(buf.getvalue()).decode()

    got = app.handle({"npy": {"input_ids": npy(ids), "attention_mask": npy(mask.astype(np.int32))}})
    # a tensor model with labels is a classifier: its one [batch, 3] output answers top-k labels
    assert got == want and [p[0]["label"] for p in got["predictions"]] == ["a", "c"]
    with pytest.raises(InputError, match="takes int64 values; got fractions"):
        app.handle({"inputs": [{"input_ids": [2.5, 3, 0], "attention_mask": [1, 1, 0]}]})
    with pytest.raises(InputError, match="input 'input_ids' has shape"):
        app.handle({"inputs": [{"input_ids": [[2]], "attention_mask": [[1]]}]})


def test_build_time_optimisation_keeps_answers_and_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    onnx_models.bag_of_words_classifier(src / "m.onnx", opset=18)
    onnx_models.word_tokenizer(src / "tokenizer.json")
    meta = onnxrt.optimize(src, tmp_path / "out")
    assert meta["opset"] == 18 and meta["inputs"]["input_ids"] == {"shape": [None, None], "dtype": "int64"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [onnxrt.META, onnxrt.OPTIMIZED, "tokenizer.json"]
    feeds = {"input_ids": np.array([[2, 5, 9]], np.int64), "attention_mask": np.array([[1, 1, 1]], np.int64)}
    before = onnxrt.load(src, 1).forward(feeds)["logits"]
    after = onnxrt.load(tmp_path / "out", 1).forward(feeds)["logits"]
    assert onnxrt.find(tmp_path / "out").name == onnxrt.OPTIMIZED and np.allclose(before, after, atol=1e-6)
    assert meta["outputs"] == {"logits": {"shape": [None, 3], "dtype": "float32"}}


def test_an_operator_onnx_runtime_lacks_is_named_with_the_opset(tmp_path: Path) -> None:
    onnx_models.unknown_operator(tmp_path / "bad.onnx", opset=17)
    with pytest.raises(ModelError) as err:
        onnxrt.optimize(tmp_path, tmp_path / "out")
    assert "NoSuchOp" in str(err.value) and "opset 17" in str(err.value)


def test_a_missing_tokenizer_fails_init_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    root = project(tmp_path / "t", TEXT_TOML)
    onnx_models.bag_of_words_classifier(root / "model" / "topics.onnx")
    (root / "labels.txt").write_text("a\n")
    (root / "model" / "tokenizer.json").write_text("{not json")
    config = image_config(root)  # lit build checks only that the file is there
    with pytest.raises(ConfigError, match="is not a tokenizers tokenizer.json"):
        App.start(root, config)
    (root / "model" / "tokenizer.json").unlink()  # an image that lost it
    with pytest.raises(ConfigError, match="tokenizer.json is missing"):
        App.start(root, config)


def test_parity_check_catches_a_model_that_drifted(text_app: App, tmp_path: Path) -> None:
    ids = np.array([[2, 3, 4]], np.int64)
    mask = np.ones_like(ids)
    out = text_app.hooks["inference"]({"input_ids": ids, "attention_mask": mask}, text_app.ctx)["logits"]
    model_dir = text_app.ctx.settings.model_dir
    np.savez(model_dir / "lit-parity.npz", **{"input:input_ids": ids, "input:attention_mask": mask, "output": out})
    assert parity(text_app) == 0.0
    np.savez(
        model_dir / "lit-parity.npz", **{"input:input_ids": ids, "input:attention_mask": mask, "output": out + 0.01}
    )
    with pytest.raises(ModelError, match="differ from MXNet's by up to 1.00e-02"):
        parity(text_app)


def test_a_batch_of_texts_of_different_lengths_shares_one_forward_pass(text_app: App) -> None:
    calls = []
    inference = text_app.hooks["inference"]

    def counted(batch, ctx):
        calls.append({k: v.shape for k, v in batch.items()})
        return inference(batch, ctx)

    text_app.hooks["inference"] = counted
    sqs = batch_event("sqs-batch", [b"x", b"y", b"z"])
    for record, body in zip(sqs["Records"], ["pasta", "court judge law code", "bug"]):
        record["body"] = json.dumps({"text": body})
    answer = text_app.handle(sqs)
    assert [r["predictions"][0][0]["label"] for r in answer["results"]] == ["food", "law", "computers"]
    assert calls == [{"input_ids": (3, 4), "attention_mask": (3, 4)}]


def test_an_mxnet_checkpoint_exports_to_onnx_runtime_with_parity_data(digits_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("mxnet")
    import onnx
    from lit_runtime import mx_export

    src = tmp_path / "mx"
    shutil.copytree(digits_model / "model", src)
    (src / "tokenizer.json").write_text("{}")
    meta = mx_export.export(src, tmp_path / "onnx", [1, 1, 8, 8])
    model = onnx.load(str(tmp_path / "onnx" / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["data"], "weights are not listed as graph inputs"
    assert meta["weights_unlisted"] > 0 and (tmp_path / "onnx" / "tokenizer.json").is_file()
    saved = np.load(tmp_path / "onnx" / mx_export.PARITY)
    engine = onnxrt.load(tmp_path / "onnx", 1)
    (got,) = engine.forward({"data": saved["input:data"]}).values()
    assert got.shape == saved["output"].shape == (2, 10)
    assert np.abs(got - saved["output"]).max() <= 1e-4


def test_a_text_of_megabytes_is_answered_from_its_start_quickly(text_app: App, tmp_path: Path) -> None:
    import time

    words = ["bread", "pasta", "court", "judge", "bug", "code"]
    short = " ".join(words[i % 6] for i in range(2000))  # the model's 8 tokens come from its start
    huge = short + " " + "cheese " * 850_000  # about 6 MB
    for text in (huge, "x" * 6_000_000, " " * 5000 + short):
        t = time.perf_counter()
        text_app.handle({"text": text})
        assert time.perf_counter() - t < 1.0, "tokenized by its start, not whole"
    assert text_app.handle({"text": huge}) == text_app.handle({"text": short}), "the same 8 tokens, the same answer"
    assert text_app.handle({"text": " " * 5000 + short}) == text_app.handle({"text": short})
    strict = project(tmp_path / "strict", TEXT_TOML.replace("max_length = 8", "max_length = 8\ntruncation = false"))
    onnx_models.bag_of_words_classifier(strict / "model" / "topics.onnx")
    onnx_models.word_tokenizer(strict / "model" / "tokenizer.json")
    (strict / "labels.txt").write_text("\n".join(onnx_models.TOPICS) + "\n")
    app = start_app(strict)
    t = time.perf_counter()
    with pytest.raises(InputError, match=r"text 0 is over 8 tokens \(\[text\] max_length") as err:
        app.handle({"text": huge})
    assert err.value.status == 413 and time.perf_counter() - t < 1.0
    with pytest.raises(InputError, match=r"text 0 is over 8 tokens"):
        app.handle({"text": "court " * 9})


def test_a_large_request_runs_in_passes_and_one_over_the_cap_is_a_413(text_app: App) -> None:
    from lit_runtime import defaults

    seen: list[int] = []
    forward = text_app.ctx.model.forward
    text_app.ctx.model.forward = lambda feeds: seen.append(len(feeds["input_ids"])) or forward(feeds)
    texts = ["the judge and the court", "a bug in my code", "bread"] * 1000
    answer = text_app.handle({"texts": texts})
    assert [p[0]["label"] for p in answer["predictions"][:3]] == ["law", "computers", "food"]
    assert len(answer["predictions"]) == 3000 and max(seen) == defaults.CHUNK["text"] and sum(seen) == 3000
    with pytest.raises(InputError, match=r"10000 examples in one request, over the cap of 4096") as err:
        text_app.handle({"texts": ["court"] * 10_000})
    assert err.value.status == 413
    sqs = batch_event("sqs-batch", [b"x", b"y", b"z"])
    for record, n in zip(sqs["Records"], (3000, 2000, 1000)):
        record["body"] = json.dumps({"texts": ["court"] * n})
    answer = text_app.handle(sqs)
    assert [len(r.get("predictions", [])) for r in answer["results"]] == [3000, 0, 1000]
    assert answer["batchItemFailures"] == [{"itemIdentifier": sqs["Records"][1]["messageId"]}]
    assert "over the cap of 4096" in answer["results"][1]["error"]["message"]


def test_texts_are_truncated_and_padded_as_hugging_face_does(tmp_path: Path) -> None:
    """A text over max_length keeps its closing special token ([SEP]), as the tokenizer's own
    truncation gives it (not the first max_length tokens of the whole); the batch is padded with the
    pad id and masked; the ids are what Hugging Face's tokenizer gives for each text alone."""
    from types import SimpleNamespace

    from lit_runtime import text
    from lit_runtime.engine import Port
    from lit_runtime.settings import TextOptions
    from tokenizers import Tokenizer, processors

    tokenizer = Tokenizer.from_file(str(onnx_models.word_tokenizer(tmp_path / "tokenizer.json")))
    tokenizer.add_special_tokens(["[CLS]", "[SEP]"])
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    reference = Tokenizer.from_str(tokenizer.to_str())
    reference.enable_truncation(8)
    ports = (Port("input_ids", "int64", (None, None)), Port("attention_mask", "int64", (None, None)))
    conf = SimpleNamespace(text=TextOptions(None, 8, "longest", True))
    ctx = SimpleNamespace(state={"tokenizer": tokenizer}, settings=conf, model=SimpleNamespace(inputs=ports))
    texts = ["court judge law code bug computer pasta bread cheese court", "bread"]
    batch = text.preprocess(texts, ctx)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape == (2, 8)
    assert ids[0].tolist() == reference.encode(texts[0]).ids and ids[0, -1] == sep
    assert ids[1, :3].tolist() == reference.encode(texts[1]).ids == [cls, tokenizer.token_to_id("bread"), sep]
    assert ids[1, 3:].tolist() == [0] * 5 and mask[1].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert mask[0].tolist() == [1] * 8


@pytest.mark.parametrize("batch", [None, 16])
def test_after_a_large_pass_the_arena_is_shrunk_by_one_pass_of_the_smallest_batch(
    tmp_path: Path, batch: int | None
) -> None:
    """release() runs one shrinking pass of the smallest batch the graph takes: one example, or the
    whole fixed batch (a one-example pass would be refused by a graph of fixed batch 16)."""
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch or "n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch or "n", 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    (tmp_path / "m").mkdir()
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m" / "g.onnx"))
    engine = onnxrt.load(tmp_path / "m", 1)
    calls: list[tuple[int, ...]] = []
    session = engine.session

    class Spy:  # the real session, with each pass's batch shape noted
        def run(self, names: Any, feeds: Any, options: Any = None) -> Any:
            calls.append(feeds["x"].shape)
            return session.run(names, feeds, options)

    engine.session = Spy()
    engine.forward({"x": np.ones((16, 4), np.float32)})
    engine.release()
    engine.release()  # nothing left to shrink: no pass
    assert calls == [(16, 4), ((batch or 1), 4)]


@pytest.mark.parametrize("kind", ["text", "tensor"])
def test_a_text_or_tensor_model_starts_without_any_image_code(kind: str, tmp_path: Path) -> None:
    """The init of a text or tensor function imports no decoder (OpenCV, Pillow, lit_runtime.pixels):
    a fresh process, as on Lambda, and the answer still comes."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    toml = TEXT_TOML if kind == "text" else TEXT_TOML.replace('input = "text"', 'input = "tensor"').split("[text]")[0]
    root = project(tmp_path / kind, toml)
    onnx_models.bag_of_words_classifier(root / "model" / "topics.onnx")
    onnx_models.word_tokenizer(root / "model" / "tokenizer.json")
    (root / "labels.txt").write_text("\n".join(onnx_models.TOPICS) + "\n")
    config = image_config(root)
    event = {"text": "the court"} if kind == "text" else {"inputs": [{"input_ids": [2, 3], "attention_mask": [1, 1]}]}
    code = (
        "import json, sys\n"
        "from pathlib import Path\nfrom lit_runtime.app import App\n"
        f"app = App.start(Path({str(root)!r}), Path({str(config)!r}))\n"
        "loaded = sorted(m for m in ('cv2', 'PIL', 'lit_runtime.pixels') if m in sys.modules)\n"
        f"answer = app.handle({event!r})\n"
        "print(json.dumps({'loaded': loaded, 'answered': 'predictions' in answer}))\n"
    )
    env = {**env_without("LIT_MODEL_DIR"), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'runtime'}"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"loaded": [], "answered": True}
