"""SageMaker model artifacts without Docker: `lit init --from model.tar.gz` on good and malformed
artifacts (through the CLI), the adapter in process against SageMaker's own toolkit, and LIT's
sagemaker_inference stand-in against the real package."""

from __future__ import annotations

import base64
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lit import archive_sagemaker
from lit.archive import Found
from lit.errors import ConfigError
from tests.conftest import DIGITS, lit, sagemaker_reference, start_app

pytestmark = pytest.mark.functional

HANDLER = """\
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)


def predict_fn(data, model):
    return [x * model["scale"] for x in data]
"""


def _tar(path: Path, files: dict[str, bytes | str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    return path


def _init(tmp_path: Path, files: dict[str, bytes | str], *args: str) -> Any:
    artifact = _tar(tmp_path / "model.tar.gz", files)
    return lit("init", str(tmp_path / "p"), "--from", str(artifact), *args)


# --- malformed artifacts: exit 2, cause and fix, nothing left behind -----------------------------------
@pytest.mark.parametrize(
    ("files", "cause", "fix"),
    [
        (
            {"weights.pth": b"\x80\x02", "README": "a model"},
            "has no code/inference.py and no model LIT recognises (it holds README, weights.pth)",
            "model_fn, input_fn, predict_fn, output_fn",
        ),
        (
            {"model.onnx": b"\x08\x07", "code/helper.py": ""},
            "has no code/inference.py (it holds model.onnx)",
            "--from model.onnx",
        ),
        (
            {
                "model.onnx": b"x",
                "code/inference.py": "def model_fn(d):\n    return d\ndef predict_fn(x, m)\n    return x\n",
            },
            "code/inference.py:3 cannot be imported: SyntaxError",
            "fix line 3 of code/inference.py",
        ),
        (
            {"model.onnx": b"x", "code/inference.py": "import numpy\nimport torchvision\n" + HANDLER},
            "code/inference.py:2 cannot be imported in the image: it imports torchvision",
            "add the package that provides 'torchvision' to code/requirements.txt",
        ),
        (
            {"model.pth": b"x", "code/inference.py": "import torch\n" + HANDLER},
            "in a format LIT's images do not serve (a PyTorch model): it holds model.pth",
            "export the model to ONNX (torch.onnx.export",
        ),
        (
            {"model.onnx": b"x", "code/inference.py": "def predict_fn(data, model):\n    return data\n"},
            "code/inference.py defines no model_fn",
            "add model_fn(model_dir)",
        ),
        (
            {"model.onnx": b"x", "code/inference.py": HANDLER + "def transform_fn(m, d, c, a):\n    return d\n"},
            "defines transform_fn and predict_fn; SageMaker's toolkit refuses the mix",
            "keep transform_fn alone",
        ),
        (
            {"a.onnx": b"x", "b.onnx": b"x", "code/inference.py": HANDLER},
            "holds 2 ONNX files (a.onnx, b.onnx); a LIT project's model directory serves one",
            "pack one model per artifact",
        ),
    ],
    ids=[
        "no-handler-no-model",
        "no-handler",
        "syntax-error",
        "missing-import",
        "unknown-format",
        "no-model-fn",
        "mix",
        "two-models",
    ],
)
def test_malformed_artifacts_exit_2_naming_cause_and_fix(tmp_path: Path, files: dict, cause: str, fix: str) -> None:
    proc = _init(tmp_path, files)
    assert proc.returncode == 2, proc.stderr
    assert cause in proc.stderr and fix in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p" / "lit.toml").exists() and not (tmp_path / "p" / "model").exists()


def test_an_import_the_requirements_provide_is_accepted(tmp_path: Path) -> None:
    files = {
        "model.onnx": b"x",
        "code/inference.py": "import yaml\nimport sklearn.preprocessing\nimport helper\n" + HANDLER,
        "code/helper.py": "",
        "code/requirements.txt": "# pins\nPyYAML==6.0.2\nscikit-learn>=1.5  # scaler\n",
    }
    proc = _init(tmp_path, files, "--json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p" / "requirements.txt").read_text() == "PyYAML==6.0.2\nscikit-learn>=1.5\n"


# --- what the reader finds ----------------------------------------------------------------------------
LAMBDA_LACKS = """\
import os

import numpy as np
import onnxruntime as ort
from sagemaker_inference import decoder, encoder

WORKERS = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "1"))


def model_fn(model_dir):
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    os.makedirs(os.path.join(model_dir, "cache"), exist_ok=True)
    with open(os.path.join(model_dir, "cache", "stamp"), "w") as f:
        f.write("loaded")
    region = os.environ["SAGEMAKER_REGION"]
    return ort.InferenceSession(os.path.join(model_dir, "model.onnx"), providers=providers)


def predict_fn(data, model):
    scratch = "/opt/ml/output/scratch.npy"
    return model.run(None, {"x": data})[0]
"""


def test_the_reader_notes_what_lambda_lacks_with_file_and_line(tmp_path: Path) -> None:
    model = tmp_path / "p" / "model"
    (model / "code").mkdir(parents=True)
    (model / "model.onnx").write_bytes(b"x")
    (model / "labels.txt").write_text("a\nb\n")
    (model / "code" / "inference.py").write_text(LAMBDA_LACKS)
    (model / "code" / "requirements.txt").write_text("sagemaker-inference==1.10.1\npyyaml\n")
    found = archive_sagemaker.read(model, tmp_path / "p")
    assert isinstance(found, Found)
    assert (found.kind, found.handler, found.model_format, found.engine) == (
        "sagemaker",
        "inference",
        "onnx",
        "onnxruntime",
    )
    assert found.code_dir == model / "code" and found.labels == model / "labels.txt"
    assert found.writable_model and found.requirements == ["pyyaml"]
    notes = "\n".join(found.notes)
    for needle in (
        "code/requirements.txt: sagemaker-inference is left out",
        "(decoder, encoder)",
        "code/inference.py:7: reads the model server's batching setting 'SAGEMAKER_MODEL_SERVER_WORKERS'",
        "code/inference.py:11: asks for the GPU ('CUDAExecutionProvider')",
        "code/inference.py:12: writes into its model directory",
        "code/inference.py:13: writes into its model directory",
        "code/inference.py:15: reads SAGEMAKER_REGION, which Lambda does not set",
        "code/inference.py:20: uses the path '/opt/ml/output/scratch.npy'; Lambda has no /opt/ml",
    ):
        assert needle in notes, notes


def test_the_cli_prints_the_notes_and_writes_an_adapter_project(tmp_path: Path) -> None:
    files = {"model.onnx": b"x", "code/inference.py": LAMBDA_LACKS}
    proc = _init(tmp_path, files)
    assert proc.returncode == 0, proc.stderr
    assert "note: code/inference.py:11: asks for the GPU" in proc.stderr
    toml = (tmp_path / "p" / "lit.toml").read_text()
    for line in ('kind = "sagemaker"', 'handler = "inference"', 'code = "model/code"', "writable_model = true"):
        assert line in toml, toml
    from lit import project

    loaded = project.load(tmp_path / "p")
    assert loaded.adapter is not None and loaded.adapter.kind == "sagemaker" and loaded.input_kind == "body"


# --- the adapter in process against SageMaker's toolkit ----------------------------------------------
@pytest.fixture()
def fresh_modules() -> Iterator[None]:
    """Each test imports its own `inference` module and its own code directory."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if name == "inference" or name.startswith("sagemaker_inference"):
            del sys.modules[name]
    sys.modules.pop("inference", None)


@pytest.fixture(scope="module")
def sm_project(sagemaker_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sm") / "p"
    proc = lit("init", str(root), "--from", str(sagemaker_artifact))
    assert proc.returncode == 0, proc.stderr
    return root


def _url_event(body: bytes, content_type: str, accept: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": content_type, "accept": accept},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def test_the_adapter_answers_as_sagemakers_toolkit_in_process(sm_project: Path, fresh_modules: None) -> None:
    pngs = [(DIGITS / "heldout" / f"{i:04d}.png").read_bytes() for i in range(3)]
    pixels = json.dumps({"instances": [[[v * 37 % 256 for v in range(r, r + 8)] for r in range(8)]]}).encode()
    requests = [
        (pngs[0], "image/png", "application/json"),
        (pngs[1], "application/x-image", "*/*"),
        (pngs[2], "image/png", "text/csv"),
        (pixels, "application/json", "*/*"),
    ]
    reference = sagemaker_reference(
        sm_project / "model",
        [{"body_b64": base64.b64encode(b).decode(), "content_type": c, "accept": a} for b, c, a in requests],
    )
    app = start_app(sm_project)
    for (body, ctype, accept), want in zip(requests, reference, strict=True):
        answer = app.handle(_url_event(body, ctype, accept))
        assert answer["statusCode"] == want["status"] == 200
        assert answer["headers"]["content-type"] == want["content_type"]
        got = _body(answer)
        if want["content_type"] == "application/json":
            assert _close(json.loads(got), json.loads(want["body"]))
        else:
            assert [float(v) for v in got.decode().split(",")] == pytest.approx(
                [float(v) for v in want["body"].decode().split(",")], abs=1e-5
            )


def _body(answer: dict[str, Any]) -> bytes:
    return base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"].encode()


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == pytest.approx(b, abs=1e-5)


# --- handlers that go wrong at init, and the toolkit's defaults -----------------------------------------
def _project(tmp_path: Path, handler: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "p"
    (root / "model" / "code").mkdir(parents=True)
    (root / "model" / "code" / "inference.py").write_text(handler)
    (root / "model" / "model.onnx").write_bytes(b"x")
    for name, text in (files or {}).items():
        (root / "model" / name).write_text(text)
    (root / "lit.toml").write_text(
        'name = "p"\n[model]\npath = "model"\nformat = "onnx"\n'
        '[adapter]\nkind = "sagemaker"\nhandler = "inference"\ncode = "model/code"\n'
    )
    return root


@pytest.mark.parametrize(
    ("handler", "needle"),
    [
        (
            "import json\n\ndef model_fn(model_dir):\n    return json.load(open(model_dir + '/missing.json'))\n"
            "def predict_fn(d, m):\n    return d\n",
            "inference.py: model_fn(",
        ),
        ("import nosuchpackage\n" + HANDLER, "importing inference.py failed at inference.py:1: ModuleNotFoundError"),
        ("def predict_fn(d, m):\n    return d\n", "inference.py defines no model_fn"),
        (HANDLER.replace("def predict_fn", "def other_fn"), "defines neither predict_fn nor transform_fn"),
    ],
    ids=["model-fn-raises", "import-fails", "no-model-fn", "no-predict-fn"],
)
def test_init_errors_name_the_file_and_function(tmp_path: Path, handler: str, needle: str, fresh_modules: None) -> None:
    from lit_runtime.errors import ServiceError

    with pytest.raises(ServiceError) as info:
        start_app(_project(tmp_path, handler))
    assert needle in str(info.value)
    if "missing.json" in handler:
        assert "failed at inference.py:4: FileNotFoundError" in str(info.value)


def test_default_input_and_output_fns_and_the_context(tmp_path: Path, fresh_modules: None) -> None:
    handler = HANDLER.replace(
        "def predict_fn(data, model):",
        "def predict_fn(data, model, context):\n    assert context.system_properties['model_dir']",
    )
    app = start_app(_project(tmp_path, handler, {"weights.json": '{"scale": 2}'}))
    # JSON in (the toolkit's decoder: a numpy array), JSON out (its encoder)
    answer = app.handle(_url_event(b"[1, 2.5]", "application/json", "application/json"))
    assert (answer["statusCode"], json.loads(_body(answer))) == (200, [2.0, 5.0])
    # CSV in, CSV out, chosen from the accept list
    answer = app.handle(_url_event(b"1,2\n3,4\n", "text/csv", "application/x-foo, text/csv"))
    assert answer["headers"]["content-type"] == "text/csv"
    assert [[float(v) for v in row.split(",")] for row in _body(answer).decode().split()] == [[2, 4], [6, 8]]
    # a type nobody decodes: 415 naming it
    answer = app.handle(_url_event(b"x", "application/x-foo", "application/json"))
    assert answer["statusCode"] == 415 and "Content type application/x-foo is not supported" in answer["body"]


def test_the_stand_in_encodes_and_decodes_as_the_real_toolkit() -> None:
    np = pytest.importorskip("numpy")
    real_decoder = pytest.importorskip("sagemaker_inference.decoder")
    real_encoder = pytest.importorskip("sagemaker_inference.encoder")
    real_default = pytest.importorskip("sagemaker_inference.default_inference_handler").DefaultInferenceHandler()
    from lit_runtime.adapters.sagemaker_toolkit import decoder, default_inference_handler, encoder

    mine = default_inference_handler.DefaultInferenceHandler()
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=np.float32).reshape(2, 3))
    for data, ctype in (
        ("[[1, 2], [3, 4.5]]", "application/json"),
        ("1,2\n3,4.5\n", "text/csv"),
        (buf.getvalue(), "application/x-npy"),
    ):
        assert np.array_equal(decoder.decode(data, ctype), real_decoder.decode(data, ctype))
    for value in (np.array([[1.5, 2], [3, 4]]), [1, 2, 3], {"a": np.float32(0.5).item()}, 7):
        for ctype in ("application/json", "text/csv", "application/x-npy"):
            if ctype != "application/json" and isinstance(value, (dict, int)):
                continue
            assert encoder.encode(value, ctype) == real_encoder.encode(value, ctype)
        for accept in ("application/json", "text/html, text/csv", "application/x-npy,application/json"):
            if isinstance(value, (dict, int)) and accept != "application/json":
                continue
            assert mine.default_output_fn(value, accept) == real_default.default_output_fn(value, accept)
    refusals = [
        (lambda: decoder.decode("x", "text/html"), lambda: real_decoder.decode("x", "text/html")),
        (lambda: encoder.encode(1, "text/html"), lambda: real_encoder.encode(1, "text/html")),
    ]
    for ours, theirs in refusals:
        with pytest.raises(Exception) as a:
            ours()
        with pytest.raises(Exception) as b:
            theirs()
        assert type(a.value).__name__ == type(b.value).__name__ == "UnsupportedFormatError"
        assert str(a.value) == str(b.value)


def test_an_mxnet_checkpoint_runs_on_the_mxnet_base(tmp_path: Path) -> None:
    files = {"net-symbol.json": "{}", "net-0003.params": b"x", "code/inference.py": "import mxnet as mx\n" + HANDLER}
    assert _init(tmp_path, files).returncode == 0
    toml = (tmp_path / "p" / "lit.toml").read_text()
    assert 'format = "mxnet"' in toml and 'engine = "mxnet"' in toml


def test_the_reader_raises_config_errors(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    with pytest.raises(ConfigError, match="no code/inference.py and no model"):
        archive_sagemaker.read(tmp_path, tmp_path)
