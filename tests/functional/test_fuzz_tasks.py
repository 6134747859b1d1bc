"""Fuzzing every task's answers, on models from PyTorch's default exporter: any batch of texts or
tensors, valid or not, in any answer form, directly and in SQS batches.

Nothing may crash the runtime: a bad request is an InputError (4xx); every answer fits the contract
`lit schema` prints for the function, and holds one prediction per input; a batch fails exactly its
bad records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import batch_event, start_app, torch_project

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("hypothesis")
jsonschema = pytest.importorskip("jsonschema")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lit_runtime import contract  # noqa: E402
from lit_runtime.errors import InputError  # noqa: E402

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
HEAD = 'name = "fuzz"\n[model]\npath = "model"\nformat = "onnx"\n'
APPS = {
    "embed": ("encoder", HEAD + 'input = "text"\ntask = "embed"\n[embed]\nnormalize = true\n[text]\nmax_length = 16\n'),
    "classify": ("batch1_classifier", HEAD + 'input = "text"\n'),
    "raw": ("two_outputs", HEAD + 'input = "tensor"\n'),
    "detect": ("yolo", HEAD + 'input = "tensor"\ntask = "detect"\n[detect]\nscore_threshold = 0.01\n'),
    "detect-nms": ("detector", HEAD + 'input = "tensor"\ntask = "detect"\n'),
}
WORDS = st.sampled_from(["court", "judge", "law", "code", "bug", "bread", "cheese", "pasta", "??", "\u00e9t\u00e9"])
TEXT = st.one_of(st.lists(WORDS, max_size=30).map(" ".join), st.text(max_size=40))
ACCEPT = st.sampled_from([None, "json", "npy", "npz", "xml", 7, "application/x-npy"])


@pytest.fixture(scope="module")
def apps(torch_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    made = {}
    for task, (name, toml) in APPS.items():
        app = start_app(torch_project(torch_models, name, tmp_path_factory.mktemp(task), toml))
        doc = contract.schema(*contract.of(app))
        made[task] = (app, doc)
    return made


def valid(doc: dict[str, Any], part: str, instance: Any) -> bool:
    return jsonschema.Draft202012Validator({**doc["$defs"][part], "$defs": doc["$defs"]}).is_valid(instance)


def answer(app: Any, event: Any) -> tuple[int, Any]:
    try:
        return 200, app.handle(event)
    except InputError as exc:
        assert 400 <= exc.status < 500, exc
        return exc.status, None


def check(task: str, apps: dict[str, Any], examples: list[Any], key: str, accept: Any) -> None:
    app, doc = apps[task]
    event: dict[str, Any] = {key: examples}
    if accept is not None:
        event["accept"] = accept
    status, out = answer(app, event)
    if status != 200:
        return
    assert valid(doc, "response", out), out
    if "predictions" in out:
        assert len(out["predictions"]) == len(examples)
    else:
        assert accept in ("npy", "npz", "application/x-npy") and task in ("embed", "classify", "raw")


@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=5), accept=ACCEPT, task=st.sampled_from(["embed", "classify"]))
def test_any_texts_in_any_answer_form(apps: dict[str, Any], texts: list[str], accept: Any, task: str) -> None:
    check(task, apps, texts, "texts", accept)


FLOATS = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@FUZZ
@given(
    rows=st.integers(1, 4),
    width=st.sampled_from([4, 4, 4, 3, 5]),
    data=st.data(),
    accept=ACCEPT,
)
def test_any_tensors_to_a_two_output_model(apps: dict[str, Any], rows: int, width: int, data: Any, accept: Any) -> None:
    examples = data.draw(st.lists(st.lists(FLOATS, min_size=width, max_size=width), min_size=rows, max_size=rows))
    check("raw", apps, examples, "inputs", accept)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(rows=st.integers(1, 3), seed=st.integers(0, 2**31), scale=st.sampled_from([0.0, 1.0, 255.0, -5.0]))
def test_any_images_to_both_detector_layouts(apps: dict[str, Any], rows: int, seed: int, scale: float) -> None:
    images = (np.random.default_rng(seed).random((rows, 3, 32, 32)) * scale).astype(np.float32).tolist()
    for task in ("detect", "detect-nms"):
        check(task, apps, images, "inputs", None)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    bodies=st.lists(
        st.one_of(TEXT.map(lambda t: {"text": t}), st.just({"text": 5}), st.just({})), min_size=1, max_size=6
    )
)
def test_sqs_batches_fail_exactly_their_bad_records(apps: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    for task in ("embed", "classify"):
        app, doc = apps[task]
        event = batch_event("sqs-batch", [b"x"] * len(bodies))
        for record, body in zip(event["Records"], bodies):
            record["body"] = json.dumps(body)
        out = app.handle(event)
        assert valid(doc, "batch_response", out)
        bad = {r["id"] for r in out["results"] if "error" in r}
        assert {f["itemIdentifier"] for f in out["batchItemFailures"]} == bad
        for body, result in zip(bodies, out["results"]):
            good = isinstance(body.get("text"), str) and body["text"].strip() != ""
            assert ("predictions" in result) == good, (body, result)
