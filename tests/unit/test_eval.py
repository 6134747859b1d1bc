"""`lit eval`'s pieces in process: the held-out data layouts, the .npy reader, the measures (checked
against the examples' own numpy implementations), scoring and the paired bootstrap."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from lit import eval_data, evaluate, npy
from lit import eval_metrics as m
from lit.errors import LitError
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
np = pytest.importorskip("numpy")


def quality(example: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"q_{example.replace('-', '_')}", ROOT / "images" / example / "quality.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", ["<f4", "<f8", ">f4", "<i8", ">i4", "|u1", "|b1", "<i2"])
def test_the_npy_reader_gives_numpys_numbers(dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) * 1.5 - 7).astype(dtype)
    buf = io.BytesIO()
    np.save(buf, array)
    got = npy.read(buf.getvalue(), "x.npy")
    assert got.shape == (2, 3, 4)
    assert got.values == [float(v) for v in array.ravel()]


def test_the_npy_reader_refuses_what_it_cannot_read() -> None:
    buf = io.BytesIO()
    np.save(buf, np.asfortranarray(np.ones((2, 3), np.float32)))
    for data in (b"not npy", buf.getvalue(), buf.getvalue()[:-4]):
        with pytest.raises(LitError, match="is not a .npy file LIT can read"):
            npy.read(data, "x.npy")


def test_map50_equals_the_numpy_implementation_on_random_detections() -> None:
    rng = random.Random(3)
    ref = quality("shapes-detect")

    def box() -> list[float]:
        x, y = rng.uniform(0, 50), rng.uniform(0, 50)
        return [x, y, x + rng.uniform(2, 20), y + rng.uniform(2, 20)]

    truths = [[{"box": box(), "class": rng.randrange(3)} for _ in range(rng.randrange(0, 4))] for _ in range(40)]
    predictions = []
    for image in truths:  # near the truth, some off, some spurious; tied scores too
        found = [
            {"box": [v + rng.uniform(-3, 3) for v in t["box"]], "class": t["class"], "score": round(rng.random(), 1)}
            for t in image
            if rng.random() < 0.8
        ]
        found += [{"box": box(), "class": rng.randrange(3), "score": round(rng.random(), 1)} for _ in range(2)]
        predictions.append(found)
    got = m.map50(predictions, truths)
    assert 0.1 < got < 0.95
    assert got == pytest.approx(ref.map50(predictions, truths), abs=1e-12)


def test_precision_at_k_equals_the_numpy_implementation_with_ties() -> None:
    rng = random.Random(5)
    labels = [rng.randrange(4) for _ in range(60)]
    vectors = [[rng.gauss(label, 1.5) for _ in range(8)] for label in labels]
    per = m.precisions_at_k(vectors, labels, 5)
    assert 0.3 < sum(per) / len(per) < 0.95
    assert sum(per) / len(per) == pytest.approx(quality("text-embed").precision_at_k(np.asarray(vectors), labels, 5))
    # equal vectors tie: the lower index is the nearer
    assert m.precisions_at_k([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [0.0, 1.0]], ["a", "b", "a", "a"], 1) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="1 <= k < 60"):
        m.precisions_at_k(vectors, labels, 60)


def test_the_paired_bootstrap_interval() -> None:
    same = m.bootstrap(lambda idx: 0.0, 100)
    assert same == (0.0, 0.0)
    a = [1.0] * 90 + [0.0] * 10
    b = [1.0] * 70 + [0.0] * 30
    lo, hi = m.bootstrap(lambda idx: sum(a[i] - b[i] for i in idx) / len(idx), 100)
    assert 0 < lo < 0.2 < hi < 0.4
    x, y = [1.0, 0.0] * 50, [0.0, 1.0] * 50  # as often better as worse: the interval spans 0
    lo, hi = m.bootstrap(lambda idx: sum(x[i] - y[i] for i in idx) / len(idx), 100)
    assert lo < 0 < hi


def png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
    )
    return path


def test_the_data_layouts(tmp_path: Path) -> None:
    # a folder per label
    png(tmp_path / "f" / "cat" / "1.png")
    png(tmp_path / "f" / "dog" / "2.jpg")
    data = eval_data.load(tmp_path / "f")
    assert data.kind == "label" and [(e.name, e.expected) for e in data.examples] == [
        ("cat/1.png", "cat"),
        ("dog/2.jpg", "dog"),
    ]
    assert "image" in data.examples[0].event
    # labels.json, the digits example's layout (other keys ignored)
    png(tmp_path / "l" / "a.png")
    (tmp_path / "l" / "labels.json").write_text(json.dumps({"accuracy": 0.9, "labels": {"a.png": 3}}))
    data = eval_data.load(tmp_path / "l")
    assert [(e.name, e.expected) for e in data.examples] == [("a.png", 3)]
    # detection truths
    (tmp_path / "l" / "labels.json").write_text(
        json.dumps({"classes": ["x"], "images": {"a.png": [{"box": [0, 0, 1, 1], "class": 0}]}})
    )
    data = eval_data.load(tmp_path / "l")
    assert data.kind == "boxes" and data.classes == ["x"]
    # texts
    (tmp_path / "t.json").write_text(json.dumps({"texts": ["a", "b"], "labels": [1, 2]}))
    assert [e.event for e in eval_data.load(tmp_path / "t.json").examples] == [{"text": "a"}, {"text": "b"}]
    # JSONL and CSV rows
    (tmp_path / "r.jsonl").write_text(
        '{"text": "hi", "label": "greeting"}\n\n{"event": {"input": [1, 2]}, "expected": "x"}\n'
    )
    rows = eval_data.load(tmp_path / "r.jsonl").examples
    assert [(r.event, r.expected) for r in rows] == [({"text": "hi"}, "greeting"), ({"input": [1, 2]}, "x")]
    (tmp_path / "r.csv").write_text("image,label\nf/cat/1.png,cat\n")
    assert eval_data.load(tmp_path / "r.csv").examples[0].expected == "cat"
    # .npy pairs
    (tmp_path / "n").mkdir()
    np.save(tmp_path / "n" / "x.npy", np.ones((1, 3), np.float32))
    np.save(tmp_path / "n" / "x.expected.npy", np.full((1, 2), 0.5, np.float32))
    data = eval_data.load(tmp_path / "n")
    assert data.kind == "tensor" and data.examples[0].expected.values == [0.5, 0.5]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"labels.json": '{"missing.png": 1}'}, "names missing.png, which is not in"),
        ({"labels.json": "{not json"}, "is not JSON"),
        ({"rows.jsonl": '{"text": "a"}\n'}, "row 1 has no label"),
        ({"rows.jsonl": "[1]\n"}, "rows.jsonl:1 is not a JSON object"),
        ({"rows.csv": "image,label\nnope.png,cat\n"}, "nope.png does not exist"),
        ({"data.txt": "x"}, "cannot read .txt files"),
        ({"empty.json": '{"texts": [], "labels": []}'}, "holds no examples"),
    ],
)
def test_bad_data_is_named_with_its_fix(tmp_path: Path, layout: dict[str, str], message: str) -> None:
    for name, text in layout.items():
        (tmp_path / name).write_text(text)
    target = tmp_path if "labels.json" in layout else tmp_path / next(iter(layout))
    with pytest.raises(LitError, match=message):
        eval_data.load(target)


def classify(label: str, *others: str) -> list[dict[str, Any]]:
    return [{"label": x, "index": int(x), "probability": 0.5} for x in (label, *others)]


def test_scoring_a_classifier_and_comparing_two() -> None:
    data = eval_data.Dataset("d", "label", [eval_data.Example(str(i), {"text": str(i)}, i % 3) for i in range(60)])
    good = evaluate.Answers("good", [classify(str(i % 3), "0") for i in range(60)], latencies_ms=[1.0] * 60)
    bad = evaluate.Answers("bad", [classify("0", str(i % 3)) for i in range(60)], latencies_ms=[2.0] * 60)
    score, per = evaluate.score(data, good)
    assert (score.task, score.value, score.details["top_k_accuracy"]) == ("classify", 1.0, 1.0)
    assert score.details["confusion"] == {"0": {"0": 20}, "1": {"1": 20}, "2": {"2": 20}}
    worse, _ = evaluate.score(data, bad)
    assert worse.value == pytest.approx(1 / 3) and worse.details["top_k_accuracy"] == 1.0
    _, cmp = evaluate.compare(data, good, bad)
    assert cmp.delta == pytest.approx(2 / 3) and cmp.interval[0] > 0.4 and cmp.differ == pytest.approx(2 / 3, abs=1e-4)
    assert "difference: +0.6667" in evaluate.render(evaluate.Report("d", score, cmp))


def test_model_servers_answers_are_scored_by_the_label_they_name() -> None:
    """Model Server's image service answers [{"probability": p, "class": LABEL}, ...], best first,
    with no index: a project made from a .mar is scored by the label names."""
    data = eval_data.Dataset("d", "label", [eval_data.Example(str(i), {"image": "AA=="}, i % 3) for i in range(30)])
    names = evaluate.Answers(
        "mms", [[{"probability": 0.9, "class": str(i % 3)}, {"probability": 0.1, "class": "7"}] for i in range(30)]
    )
    names.latencies_ms = [1.0] * 30
    score, _ = evaluate.score(data, names)
    assert (score.task, score.value) == ("classify", 1.0)
    assert score.details["confusion"] == {"0": {"0": 10}, "1": {"1": 10}, "2": {"2": 10}}
    words = eval_data.Dataset("w", "label", [eval_data.Example("a", {"image": "AA=="}, "cat")])
    cat = evaluate.Answers("mms", [[{"probability": 0.6, "class": "dog"}, {"probability": 0.4, "class": "cat"}]])
    cat.latencies_ms = [1.0]
    score, _ = evaluate.score(words, cat)
    assert score.value == 0.0 and score.details["top_k_accuracy"] == 1.0


def test_an_answer_eval_cannot_interpret_is_an_error_not_a_score() -> None:
    data = eval_data.Dataset("d", "label", [eval_data.Example("0", {"text": "a"}, 1)])
    for answer in ({"odd": "shape"}, [{"label": "x"}]):
        with pytest.raises(LitError, match="cannot score"):
            evaluate.score(data, evaluate.Answers("m", [answer], latencies_ms=[1.0]))
    with pytest.raises(LitError, match="answered none of the 1 examples"):
        evaluate.score(data, evaluate.Answers("m", [None], {"0": "status 500: boom"}, [1.0]))


def test_collect_sends_batches_after_a_warm_up_and_keeps_failures() -> None:
    examples = [eval_data.Example(str(i), {"text": f"t{i}"}, 0) for i in range(5)]
    sent: list[Any] = []

    def send(body: bytes) -> tuple[int, bytes]:
        event = json.loads(body)
        sent.append(event)
        texts = event.get("texts", [event.get("text")])
        if "t4" in texts:
            return 200, json.dumps({"errorType": "InputError", "errorMessage": "too long"}).encode()
        return 200, json.dumps({"predictions": [classify("0") for _ in texts]}).encode()

    got = evaluate.collect("m", eval_data.Dataset("d", "label", examples), send, batch=2)
    assert sent[0] == sent[1] == {"texts": ["t0", "t1"]} and len(sent) == 4  # the warm-up, then 3 requests
    assert got.predictions[:4] == [classify("0")] * 4 and got.predictions[4] is None
    assert got.errors == {"4": "status 200: too long"} and len(got.latencies_ms) == 3
