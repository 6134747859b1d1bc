"""Tasks on models exported by PyTorch's default ONNX exporter, in process: embeddings, detections,
every output by name, a batch-1 export fed in chunks, array answers and Lambda's 6 MB answer limit.
Every answer is compared with what PyTorch computed for the same inputs."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import batch_event, load_event, start_app, torch_project

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from lit_runtime.check import decisions  # noqa: E402
from lit_runtime.errors import InputError, ModelError  # noqa: E402

TOLERANCE = 1e-4


def toml(kind: str, *lines: str) -> str:
    return "\n".join(['name = "t"', "[model]", 'path = "model"', 'format = "onnx"', f'input = "{kind}"', *lines]) + "\n"


@pytest.fixture()
def serve(torch_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    made = [0]

    def _serve(name: str, config: str, labels: list[str] | None = None) -> Any:
        made[0] += 1
        root = torch_project(torch_models, name, tmp_path / f"{name}-{made[0]}", config)
        if labels is not None:
            (root / "labels.txt").write_text("\n".join(labels) + "\n")
        return start_app(root)

    return _serve


def reference(torch_models: Path, name: str) -> Any:
    return np.load(torch_models / name / "reference.npz")


def masked_mean(hidden: Any, mask: Any) -> Any:
    weights = mask[:, :, None].astype(np.float64)
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1)


def worst(got: Any, want: Any) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    return float(np.abs(got - want).max())


def npy_answer(answer: dict[str, Any], form: str = "npy") -> Any:
    data = base64.b64decode(answer[form])
    return np.load(io.BytesIO(data), allow_pickle=False)


def test_a_text_encoder_answers_one_pooled_vector_per_text(serve: Any, torch_models: Path) -> None:
    ref = reference(torch_models, "encoder")
    texts = [str(t) for t in ref["texts"]]
    want = masked_mean(ref["output:last_hidden_state"], ref["input:attention_mask"])
    app = serve("encoder", toml("text", 'task = "embed"'))
    assert app.ctx.task.task.name == "embed"
    got = app.handle({"texts": texts})["predictions"]
    assert worst(got, want) <= TOLERANCE
    # alone, each text is padded differently (not at all): the same vector
    assert worst([app.handle({"text": t})["predictions"][0] for t in texts], want) <= TOLERANCE
    # as an array: the same numbers, with no float formatting
    answer = app.handle({"texts": texts, "accept": "npy"})
    assert answer["arrays"] == {"embeddings": {"shape": [3, 32], "dtype": "float32"}}
    assert np.array_equal(npy_answer(answer), np.asarray(got, np.float32))
    # through an HTTP trigger with Accept: application/x-npy
    event = load_event("apigw-http-json")
    event["headers"] = {"content-type": "application/json", "accept": "application/x-npy"}
    event["body"], event["isBase64Encoded"] = json.dumps({"texts": texts}), False
    http = app.handle(event)
    assert (
        http["statusCode"] == 200 and http["isBase64Encoded"] and http["headers"]["content-type"] == "application/x-npy"
    )
    assert np.array_equal(np.load(io.BytesIO(base64.b64decode(http["body"]))), np.asarray(got, np.float32))
    # an SQS batch: its texts share one forward pass, padded to the longest, and pool the same
    sqs = batch_event("sqs-batch", [b"x", b"y"])
    sqs["Records"][0]["body"] = json.dumps({"texts": texts[:2]})
    sqs["Records"][1]["body"] = json.dumps({"text": texts[2]})
    results = app.handle(sqs)["results"]
    assert worst(results[0]["predictions"] + results[1]["predictions"], want) <= TOLERANCE


@pytest.mark.parametrize("pooling", ["cls", "max", "mean"])
def test_pooling_and_normalisation_follow_lit_toml(serve: Any, torch_models: Path, pooling: str) -> None:
    ref = reference(torch_models, "encoder")
    hidden, mask = ref["output:last_hidden_state"], ref["input:attention_mask"]
    if pooling == "cls":
        want = hidden[:, 0]
    elif pooling == "max":
        want = np.where(mask[:, :, None] > 0, hidden, -np.inf).max(axis=1)
    else:
        want = masked_mean(hidden, mask)
    want = want / np.linalg.norm(want, axis=1, keepdims=True)
    app = serve("encoder", toml("text", 'task = "embed"', "[embed]", f'pooling = "{pooling}"', "normalize = true"))
    got = app.handle({"texts": [str(t) for t in ref["texts"]]})["predictions"]
    assert worst(got, want) <= TOLERANCE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_an_encoder_without_a_task_answers_its_hidden_states_never_a_softmax(serve: Any, torch_models: Path) -> None:
    ref = reference(torch_models, "encoder")
    app = serve("encoder", toml("text"))
    assert app.ctx.task.task.name == "raw" and "last_hidden_state" in app.ctx.task.reason
    got = app.handle({"texts": [str(t) for t in ref["texts"]]})["predictions"]
    assert worst(got, ref["output:last_hidden_state"]) <= TOLERANCE
    with pytest.raises(ModelError, match=r'task = "classify" does not fit.*last_hidden_state float32 \[N, N, 32\]'):
        serve("encoder", toml("text", 'task = "classify"'))


@pytest.mark.parametrize("name", ["detector", "two_outputs"])
def test_several_outputs_are_answered_by_name_in_their_own_dtype(serve: Any, torch_models: Path, name: str) -> None:
    ref = reference(torch_models, name)
    inputs = {k.removeprefix("input:"): ref[k] for k in ref.files if k.startswith("input:")}
    outputs = {k.removeprefix("output:"): ref[k] for k in ref.files if k.startswith("output:")}
    app = serve(name, toml("tensor"))
    assert app.ctx.task.task.name == "raw" and f"{len(outputs)} outputs" in app.ctx.task.reason
    (array,) = inputs.values()
    got = app.handle({"inputs": array.tolist()})["predictions"]
    assert len(got) == len(array) and all(set(row) == set(outputs) for row in got)
    for out, want in outputs.items():
        assert worst([row[out] for row in got], want) <= TOLERANCE, out
        if want.dtype.kind == "i":
            assert all(isinstance(v, int) for row in got for v in row[out]), "ints stay ints"
    archive = app.handle({"inputs": array.tolist(), "accept": "npz"})
    with np.load(io.BytesIO(base64.b64decode(archive["npz"]))) as files:
        assert sorted(files.files) == sorted(outputs) and all(worst(files[k], outputs[k]) <= TOLERANCE for k in outputs)
    with pytest.raises(InputError, match="ask for application/x-npz") as err:
        app.handle({"inputs": array.tolist(), "accept": "npy"})
    assert err.value.status == 406


def test_detections_are_scored_filtered_and_given_in_the_callers_pixels(serve: Any) -> None:
    import cv2

    labels = ["circle", "square", "triangle"]
    config = toml("image", 'task = "detect"', 'labels = "labels.txt"', "[image]", "size = [32, 32]")
    app = serve("detector", config + "[detect]\nscore_threshold = 0.0\n", labels)
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)]
    pngs = [cv2.imencode(".png", p)[1].tobytes() for p in pictures]
    got = app.handle({"images": [base64.b64encode(p).decode() for p in pngs]})["predictions"]
    tensor = app.hooks["preprocess"](pngs, app.ctx)
    raw = app.ctx.model.forward({"images": tensor})
    for i, (sx, sy) in enumerate([(2.0, 1.5), (1.0, 1.0)]):
        order = np.argsort(-raw["scores"][i], kind="stable")
        assert [d["score"] for d in got[i]] == pytest.approx(raw["scores"][i][order].tolist())
        want = raw["boxes"][i][order] * np.array([sx, sy, sx, sy])
        assert worst([d["box"] for d in got[i]], want) <= TOLERANCE
        assert [d["label"] for d in got[i]] == [labels[c] for c in raw["classes"][i][order]]
    strict = serve("detector", config + "[detect]\nscore_threshold = 0.99\n", labels)
    assert strict.handle({"image": base64.b64encode(pngs[0]).decode()})["predictions"] == [[]]
    with pytest.raises(InputError, match="no .npy form") as err:
        strict.handle({"image": base64.b64encode(pngs[0]).decode(), "accept": "npy"})
    assert err.value.status == 406


def expected_yolo(raw: Any, threshold: float = 0.25, iou: float = 0.45) -> list[tuple[int, list[float], float]]:
    """The detections of one image's [4 + C, N] candidates, by a plain loop (the test's own NMS)."""

    def overlap(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union

    found = []
    for cand in raw.T:
        cls = int(np.argmax(cand[4:]))
        score = float(cand[4 + cls])
        if score >= threshold:
            cx, cy, w, h = (float(v) for v in cand[:4])
            found.append((score, cls, [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
    kept: list[tuple[int, list[float], float]] = []
    for score, cls, box in sorted(found, key=lambda f: -f[0]):
        if all(c != cls or overlap(box, b) <= iou for c, b, _ in kept):
            kept.append((cls, box, score))
    return kept


def test_a_yolo_style_raw_output_is_decoded_with_non_maximum_suppression(serve: Any, torch_models: Path) -> None:
    ref = reference(torch_models, "yolo")
    app = serve("yolo", toml("tensor", 'task = "detect"'))
    got = app.handle({"inputs": ref["input:images"].tolist()})["predictions"]
    for i, detections in enumerate(got):
        want = expected_yolo(ref["output:output0"][i])
        assert 1 <= len(want) <= 10
        assert [(d["class"], d["label"]) for d in detections] == [(c, str(c)) for c, _, _ in want]
        assert worst([d["box"] for d in detections], [b for _, b, _ in want]) <= TOLERANCE
        assert worst([d["score"] for d in detections], [s for _, _, s in want]) <= TOLERANCE


def test_non_maximum_suppression_keeps_the_best_of_overlapping_boxes_per_class() -> None:
    from lit_runtime.tasks.detect import nms

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.8, 0.5], np.float32)
    same = nms(boxes, scores, np.zeros(4, np.int64), 0.45)
    assert same.tolist() == [1, 3], "the two boxes under the best one go; the far one stays"
    apart = nms(boxes, scores, np.array([0, 0, 1, 0]), 0.45)
    assert apart.tolist() == [1, 2, 3], "a box of another class is never suppressed"


def test_a_batch_one_export_answers_several_texts_and_an_sqs_batch(serve: Any, torch_models: Path) -> None:
    ref = reference(torch_models, "batch1_classifier")
    texts = [str(t) for t in ref["texts"]]
    logits = ref["per_text_logits"].astype(np.float64)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    app = serve("batch1_classifier", toml("text", 'labels = "labels.txt"', "top_k = 3"), ["law", "computers", "food"])
    assert any("fixed batch of 1" in line for line in decisions(app))
    seen = []
    forward = app.ctx.model.forward
    app.ctx.model.forward = lambda feeds: seen.append(len(feeds["input_ids"])) or forward(feeds)

    def probabilities(answer: list[list[dict[str, Any]]]) -> list[list[float]]:
        return [[next(p["probability"] for p in row if p["index"] == c) for c in range(3)] for row in answer]

    assert worst(probabilities(app.handle({"texts": texts})["predictions"]), want) <= TOLERANCE
    assert seen == [1, 1, 1], "fed one example at a time"
    sqs = batch_event("sqs-batch", [b"x", b"y"])
    sqs["Records"][0]["body"] = json.dumps({"texts": texts[:2]})
    sqs["Records"][1]["body"] = json.dumps({"text": texts[2]})
    answer = app.handle(sqs)
    assert answer["batchItemFailures"] == []
    rows = answer["results"][0]["predictions"] + answer["results"][1]["predictions"]
    assert worst(probabilities(rows), want) <= TOLERANCE


def wide_model(path: Path, width: int) -> Path:
    """x [batch, 4] -> y [batch, 4 * width]: an answer as large as a caller likes."""
    from onnx import TensorProto, helper, numpy_helper, save

    graph = helper.make_graph(
        [helper.make_node("Tile", ["x", "repeats"], ["y"])],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4 * width])],
        initializer=[numpy_helper.from_array(np.array([1, width], np.int64), "repeats")],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_an_answer_over_six_mb_is_refused_as_lambda_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    (tmp_path / "model").mkdir()
    wide_model(tmp_path / "model" / "wide.onnx", 60_000)
    (tmp_path / "lit.toml").write_text(toml("tensor"))
    app = start_app(tmp_path)
    rows = [[0.1234567, -0.7654321, 0.3333333, 1e-7]] * 2  # 480,000 numbers, about 9 MB of JSON
    from lit_runtime.answers import ResponseSizeTooLarge

    with pytest.raises(
        ResponseSizeTooLarge, match=r"over Lambda's 6291456-byte response limit.*\"accept\": \"npy\""
    ) as err:
        app.handle({"inputs": rows})
    assert type(err.value).__name__ == "Function.ResponseSizeTooLarge"
    answer = app.handle({"inputs": rows, "accept": "npy"})  # 1.9 MB as .npy
    array = npy_answer(answer)
    assert array.shape == (2, 240_000) and np.array_equal(array[:, :4], np.asarray(rows, np.float32))
    event = load_event("apigw-http-json")
    event["headers"] = {"content-type": "application/json"}
    event["body"], event["isBase64Encoded"] = json.dumps({"inputs": rows}), False
    http = app.handle(event)
    assert http["statusCode"] == 413 and "Function.ResponseSizeTooLarge" in http["body"]
    assert "application/x-npy" in json.loads(http["body"])["error"]["message"]
    small = app.handle({"inputs": rows[:1] * 1})  # 240,000 numbers: under the limit, answered
    assert len(small["predictions"][0]) == 240_000


def test_an_unknown_accept_is_a_406(serve: Any) -> None:
    app = serve("two_outputs", toml("tensor"))
    with pytest.raises(InputError, match="'accept' must be one of json, npy, npz") as err:
        app.handle({"input": [1.0, 2.0, 3.0, 4.0], "accept": "xml"})
    assert err.value.status == 406


@pytest.mark.parametrize(
    ("name", "config", "event"),
    [
        ("encoder", toml("text", 'task = "embed"'), {"texts": ["the judge", "a bug in my code"]}),
        ("encoder", toml("text"), {"text": "bread and cheese"}),
        ("batch1_classifier", toml("text", 'task = "classify"'), {"texts": ["court", "bug"]}),
        ("detector", toml("tensor", 'task = "detect"'), None),
        ("yolo", toml("tensor", 'task = "detect"'), None),
        ("two_outputs", toml("tensor"), None),
        ("detector", toml("tensor"), None),
    ],
)
def test_real_answers_fit_the_contract_lit_schema_prints(
    serve: Any, torch_models: Path, name: str, config: str, event: dict[str, Any] | None
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from lit_runtime import contract

    app = serve(name, config)
    doc = contract.schema(*contract.of(app))
    jsonschema.Draft202012Validator.check_schema(doc)
    defs = doc["$defs"]

    def valid(instance: Any, part: str) -> bool:
        return jsonschema.Draft202012Validator({**defs[part], "$defs": defs}).is_valid(instance)

    if event is None:
        ref = reference(torch_models, name)
        (key,) = [k for k in ref.files if k.startswith("input:")]
        event = {"inputs": ref[key].tolist()}
    assert valid(event, "request")
    assert valid(app.handle(event), "response")
    if doc["x-lit"]["task"] != "detect":  # (detections have no array form: a 406, tested above)
        assert valid(app.handle({**event, "accept": "npz"}), "response")
    sqs = batch_event("sqs-batch", [b"x", b"y"])
    sqs["Records"][0]["body"] = json.dumps(event)
    sqs["Records"][1]["body"] = json.dumps({"wrong": 1})
    assert valid(app.handle(sqs), "batch_response")
    # what the contract refuses, the runtime refuses too
    for bad in ({"wrong": 1}, {**event, "accept": "xml"}):
        assert not valid(bad, "request")
        with pytest.raises(InputError):
            app.handle(bad)
    # the schema is specific: another task's answer does not pass
    wrong = [[{"label": "x", "index": 0, "probability": 2.0}]] if doc["x-lit"]["task"] != "classify" else [[0.5]]
    assert not valid({"predictions": wrong}, "response")
    api = contract.openapi(*contract.of(app))
    assert api["openapi"] == "3.1.0" and "application/x-npy" in api["paths"]["/"]["post"]["responses"]["200"]["content"]


def log_model(path: Path) -> Path:
    """x [batch, 2] -> y = log(x): NaN for a negative input, -Infinity for 0."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Log", ["x"], ["y"])],
        "log",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_answers_are_always_strict_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    (tmp_path / "model").mkdir()
    log_model(tmp_path / "model" / "log.onnx")
    (tmp_path / "lit.toml").write_text(toml("tensor"))
    app = start_app(tmp_path)
    # a model that answers NaN and -Infinity: null in JSON, never a bare NaN
    answer = app.handle({"inputs": [[-1.0, 0.0], [1.0, 2.0]]})
    assert strict(json.dumps(answer)) == {"predictions": [[None, None], [0.0, pytest.approx(0.6931472)]]}
    sqs = batch_event("sqs-batch", [b"x"])
    sqs["Records"][0]["body"] = json.dumps({"input": [-1.0, 1.0]})
    assert strict(json.dumps(app.handle(sqs)))["results"][0]["predictions"] == [[None, 0.0]]
    # NaN and Infinity sent in: a 400 naming the input and the example
    for bad in ({"inputs": [[1.0, 2.0], [float("nan"), 1.0]]}, {"input": [float("inf"), 1.0]}):
        with pytest.raises(InputError, match=r"input 'x' of example \d holds NaN or Infinity") as err:
            app.handle(json.loads(json.dumps(bad)))
        assert err.value.status == 400
    event = load_event("apigw-http-json")
    event["headers"] = {"content-type": "application/json"}
    event["body"], event["isBase64Encoded"] = '{"input": [NaN, 1.0]}', False
    http = app.handle(event)
    assert http["statusCode"] == 400 and "NaN" in strict(http["body"])["error"]["message"]
