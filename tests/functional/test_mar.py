"""Model Server archives (.mar) through `lit init --from` and the adapters in process: archives made
by the servers' own archivers become projects whose handler answers as its server calls it; what
the handler relies on that Lambda lacks is noted with file:line; malformed archives exit 2 naming
the cause and the fix; handlers that cannot load fail at init saying where and what to do."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pytest

from lit import project
from tests.conftest import DIGITS, assert_clean_failure, lit, start_app
from tests.fixtures.mar import pack_mms_digits, pack_torchserve, torch_model_archiver

pytestmark = pytest.mark.functional
np = pytest.importorskip("numpy")

MMS_MANIFEST = {
    "runtime": "python",
    "model": {"modelName": "m", "handler": "service:handle"},
    "modelServerVersion": "1.0",
}


def _zip(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _mar(path: Path, handler_code: str, manifest: dict | None = None, **files: str | bytes) -> Path:
    """A small MMS-shaped archive, for what the archivers cannot be made to write."""
    doc = manifest or MMS_MANIFEST
    return _zip(
        path,
        {
            "MAR-INF/MANIFEST.json": json.dumps(doc),
            "m.onnx": b"not read by these handlers",
            "service.py": handler_code,
            **files,
        },
    )


def _png(i: int = 0) -> bytes:
    return (DIGITS / "heldout" / f"{i:04d}.png").read_bytes()


def init(archive: Path, root: Path) -> tuple[int, str]:
    proc = lit("init", str(root), "--from", str(archive))
    return proc.returncode, proc.stderr


# -- archives made by the real archivers ----------------------------------------------------------


def test_an_mms_archive_becomes_a_project_whose_handler_answers_as_mms_calls_it(
    digits_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("mxnet")
    mar = pack_mms_digits(digits_model / "model", tmp_path)
    root = tmp_path / "digits-mar"
    code, err = init(mar, root)
    assert code == 0, err
    proj = project.load(root)
    assert proj.adapter is not None and (proj.adapter.kind, proj.adapter.handler) == ("mms", "digits_service:handle")
    assert (proj.engine, proj.model_format, proj.input_kind) == ("mxnet", "mxnet", "body")
    assert proj.labels == root / "model" / "synset.txt"
    assert (root / "requirements.txt").read_text().split() == ["Pillow"]  # mxnet_utils/image.py imports PIL
    assert "signature inputs: data [0, 1, 8, 8]" in (root / "lit.toml").read_text()
    # each thing Lambda lacks, with where the handler relies on it
    assert "note: mxnet_model_service.py:55, mxnet_model_service.py:90: the handler asks for a GPU" in err
    assert "note: model_handler.py:37: the handler reads the server's batch_size; LIT reports 1" in err
    assert "mxnet_utils/image.py:20 imports PIL" in err

    app = start_app(root)
    one = app.handle({"image": base64.b64encode(_png(0)).decode()})["predictions"]
    assert len(one) == 1 and one[0][0]["class"] == "2" and 0.99 < one[0][0]["probability"] <= 1
    assert len(one[0]) == 5  # the template's top 5
    # several bodies: MMS's default batch size is 1, and the template asserts it: one call each, in order
    many = app.handle({"images": [base64.b64encode(_png(i)).decode() for i in range(3)]})["predictions"]
    assert many[0] == one[0] and len(many) == 3
    # the service's own answer to a bad image, as MMS gives it (200 and its text)
    url_event = {
        "version": "2.0",
        "rawPath": "/",
        "requestContext": {"http": {"method": "POST"}, "domainName": "x.lambda-url.us-east-1.on.aws"},
        "headers": {"content-type": "application/x-image"},
        "body": base64.b64encode(b"not an image").decode(),
        "isBase64Encoded": True,
    }
    bad = app.handle(url_event)
    assert bad["statusCode"] == 200 and base64.b64decode(bad["body"]) == b"Corrupted image input"
    assert bad["headers"]["content-type"].startswith("text/plain")
    url_event["body"] = base64.b64encode(_png(0)).decode()
    good = app.handle(url_event)
    assert good["headers"]["content-type"] == "application/json"
    assert json.loads(base64.b64decode(good["body"])) == one[0]  # the body MMS sends: json.dumps(indent=2)


def test_a_torchserve_basehandler_subclass_runs_its_onnx_model_on_onnx_runtime(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from tests.fixtures import onnx_models

    model = onnx_models.linear_without_initializer_inputs(tmp_path / "linear.onnx")
    handler = tmp_path / "linear_handler.py"
    handler.write_text(
        "import numpy as np\n"
        "from ts.torch_handler.base_handler import BaseHandler\n\n\n"
        "class LinearHandler(BaseHandler):\n"
        "    def preprocess(self, data):\n"
        "        return np.asarray([row.get('data') or row.get('body') for row in data], np.float32)\n"
    )
    root = tmp_path / "p"
    code, err = init(pack_torchserve(model, tmp_path, "linear", handler), root)
    assert code == 0, err
    app = start_app(root)
    x = [[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 0.5, 2.0]]
    want = np.asarray(x) @ (np.arange(12).reshape(3, 4) / 10).T + [1.0, -1.0, 0.5]
    got = [app.handle({"body": json.dumps(row)})["predictions"][0] for row in x]
    assert np.abs(np.asarray(got) - want).max() < 1e-5  # BaseHandler's inference and postprocess (tolist)


def test_torchserve_labels_become_labels_txt_and_model_config_sets_the_batch(tmp_path: Path) -> None:
    config = "minWorkers: 1\nbatchSize: 4\nmaxBatchDelay: 100\n"
    (tmp_path / "model-config.yaml").write_text(config)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    handler = tmp_path / "h.py"
    handler.write_text(
        "from ts.torch_handler.base_handler import BaseHandler\n\n"
        "class H(BaseHandler):\n"
        "    def initialize(self, context):\n"
        "        self.size = context.system_properties['batch_size']\n"
        "        self.initialized = True\n"
    )
    mar = pack_torchserve(tmp_path / "m.onnx", tmp_path, "ts", handler)
    torch_model_archiver(
        "--model-name", "ts", "--version", "1.0", "--serialized-file", str(tmp_path / "m.onnx"),
        "--handler", str(handler), "--config-file", str(tmp_path / "model-config.yaml"),
        "--extra-files", str(tmp_path / "index_to_name.json"), "--export-path", str(tmp_path), "--force",
    )  # fmt: skip
    root = tmp_path / "p"
    code, err = init(mar, root)
    assert code == 0, err
    proj = project.load(root)
    assert proj.adapter is not None and (proj.adapter.kind, proj.adapter.handler) == ("torchserve", "h")
    assert (proj.engine, proj.model_format) == ("onnxruntime", "onnx")
    assert (root / "labels.txt").read_text().splitlines() == [f"digit {d}" for d in range(10)]
    assert "h.py:5: the handler reads the server's batch_size; LIT reports 4 (the model config)" in err
    assert "configFile: model-config.yaml (batchSize 4)" in (root / "lit.toml").read_text()


# -- malformed archives: exit 2, the cause and the fix ---------------------------------------------


def test_an_archive_without_a_manifest_is_refused(tmp_path: Path) -> None:
    bad = _zip(tmp_path / "m.mar", {"model.onnx": b"x", "service.py": "def handle(d, c): return d\n"})
    proc = lit("init", str(tmp_path / "p"), "--from", str(bad))
    assert_clean_failure(proc, 2, "MAR-INF/MANIFEST.json")
    assert "model-archiver" in proc.stderr


def test_a_manifest_that_is_not_json_or_names_no_handler_is_refused(tmp_path: Path) -> None:
    broken = _zip(tmp_path / "a.mar", {"MAR-INF/MANIFEST.json": '{"model": {"handler": "s:h"', "s.py": ""})
    proc = lit("init", str(tmp_path / "a"), "--from", str(broken))
    assert_clean_failure(proc, 2, "MANIFEST.json is not valid JSON")
    assert "pack the archive again" in proc.stderr
    no_handler = _mar(tmp_path / "b.mar", "", {"modelServerVersion": "1.0", "model": {"modelName": "m"}})
    proc = lit("init", str(tmp_path / "b"), "--from", str(no_handler))
    assert_clean_failure(proc, 2, 'has no "model": {"handler": ...}')
    assert "--handler MODULE[:FUNCTION]" in proc.stderr
    assert not (tmp_path / "b" / "model").exists(), "nothing half made is left"


def test_an_archive_of_unknown_format_or_runtime_is_refused(tmp_path: Path) -> None:
    unknown = _mar(tmp_path / "u.mar", "", {"model": {"modelName": "m", "handler": "service:handle"}})
    proc = lit("init", str(tmp_path / "u"), "--from", str(unknown))
    assert_clean_failure(proc, 2, "of no format LIT knows")
    assert "model-archiver (MMS) or torch-model-archiver (TorchServe)" in proc.stderr
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.onnx").write_bytes(b"x")
    (src / "service.py").write_text("def handle(data, context):\n    return data\n")
    from tests.fixtures.mar import model_archiver

    model_archiver(
        "--model-name", "py2", "--model-path", str(src), "--handler", "service:handle", "--runtime", "python2",
        "--export-path", str(tmp_path),
    )  # fmt: skip
    proc = lit("init", str(tmp_path / "py2"), "--from", str(tmp_path / "py2.mar"))
    assert_clean_failure(proc, 2, "runtime 'python2' is not one LIT runs")
    assert "port the handler to Python 3" in proc.stderr


def test_a_handler_module_missing_from_the_archive_is_named(digits_model: Path, tmp_path: Path) -> None:
    mar = pack_mms_digits(digits_model / "model", tmp_path, handler="vision_service:handle")
    proc = lit("init", str(tmp_path / "p"), "--from", str(mar))
    assert_clean_failure(proc, 2, "the archive's handler module 'vision_service'")
    assert "not in the archive" in proc.stderr and "vision_service.py" in proc.stderr


def test_pytorch_models_and_torchserve_builtin_handlers_say_to_export_to_onnx(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"TorchScript zip, not read")
    handler = tmp_path / "h.py"
    handler.write_text("from ts.torch_handler.base_handler import BaseHandler\n\nclass H(BaseHandler):\n    pass\n")
    torchscript = pack_torchserve(tmp_path / "model.pt", tmp_path, "ts", handler)
    proc = lit("init", str(tmp_path / "a"), "--from", str(torchscript))
    assert_clean_failure(proc, 2, "serialized file 'model.pt' is TorchScript or PyTorch weights")
    assert "torch.onnx.export" in proc.stderr and "--serialized-file model.onnx" in proc.stderr
    torch_model_archiver(
        "--model-name", "builtin", "--version", "1.0", "--serialized-file", str(tmp_path / "model.pt"),
        "--handler", "image_classifier", "--export-path", str(tmp_path),
    )  # fmt: skip
    proc = lit("init", str(tmp_path / "b"), "--from", str(tmp_path / "builtin.mar"))
    assert_clean_failure(proc, 2, "TorchServe's built-in handler 'image_classifier', which runs PyTorch")
    assert "subclasses ts.torch_handler.base_handler.BaseHandler" in proc.stderr


def test_a_handler_that_is_not_python_3_is_refused(tmp_path: Path) -> None:
    bad = _mar(tmp_path / "m.mar", "def handle(data, context):\n    print 'hello'\n")
    proc = lit("init", str(tmp_path / "p"), "--from", str(bad))
    assert_clean_failure(proc, 2, "service.py in the archive is not valid Python 3")


# -- handlers that cannot load fail at init, saying where and what to do ---------------------------


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (
            "import numpy\nimport torch\n\ndef handle(data, context):\n    return data\n",
            "imports torch (at {model}/service.py:2), and a LIT image carries no PyTorch: export the model to ONNX",
        ),
        (
            "import json\nimport no_such_package_here\n",
            "failed to import: No module named 'no_such_package_here' (at {model}/service.py:2); add the package",
        ),
        ("X = 1\nraise RuntimeError('boom')\n", "failed to import: RuntimeError: boom (at {model}/service.py:2)"),
        (
            "class A:\n    pass\n\nclass B:\n    pass\n",
            "defines no handle function and 2 classes (A, B); the server needs one or the other",
        ),
        (
            "def handle(data, context):\n    if data is None:\n        raise OSError('no weights')\n",
            "failed to initialize: OSError: no weights (at {model}/service.py:3)",
        ),
    ],
    ids=["torch", "missing-package", "raises", "two-classes", "init-fails"],
)
def test_a_handler_that_cannot_load_fails_at_init_naming_where(tmp_path: Path, code: str, needle: str) -> None:
    from lit_runtime.errors import ServiceError

    root = tmp_path / "p"
    status, err = init(_mar(tmp_path / "m.mar", code), root)
    assert status == 0, err
    if "torch" in code:
        assert "service.py:2: the handler imports PyTorch" in err
    with pytest.raises(ServiceError) as exc:
        start_app(root)
    assert needle.format(model=root / "model") in str(exc.value)


# -- the server contract, on small handlers ---------------------------------------------------------


def _project(tmp_path: Path, code: str, manifest: dict | None = None) -> object:
    root = tmp_path / "p"
    status, err = init(_mar(tmp_path / "m.mar", code, manifest), root)
    assert status == 0, err
    return start_app(root)


def test_answers_content_types_statuses_and_counts_follow_the_server_contract(tmp_path: Path) -> None:
    from lit_runtime.errors import ServiceError

    app = _project(
        tmp_path,
        "from mms.service import PredictionException\n\n"
        "def handle(data, context):\n"
        "    if data is None:\n"
        "        return None\n"
        "    out = []\n"
        "    for i, row in enumerate(data):\n"
        "        body = row['body']\n"
        "        if body == {'fail': True}:\n"
        "            raise PredictionException('refused', 422)\n"
        "        if body == {'teapot': True}:\n"
        "            context.set_response_status(418, 'short and stout', i)\n"
        "        if body == {'count': True}:\n"
        "            return out\n"
        "        if isinstance(body, (bytes, bytearray)):\n"
        "            context.set_response_content_type(i, 'application/octet-stream')\n"
        "            out.append(bytes(reversed(body)))\n"
        "        else:\n"
        "            out.append({'got': body, 'accept': context.get_request_header(i, 'accept'),\n"
        "                        'batch': context.system_properties['batch_size'],\n"
        "                        'gpu': context.system_properties['gpu_id']})\n"
        "    return out\n",
    )
    ok = app.handle({"x": 1})["predictions"]
    assert ok == [{"got": {"x": 1}, "accept": "application/json", "batch": 1, "gpu": None}]
    raw = app.handle({"body": base64.b64encode(b"abc").decode(), "isBase64Encoded": True, "contentType": "image/png"})
    assert raw["predictions"] == [
        {"base64": base64.b64encode(b"cba").decode(), "content_type": "application/octet-stream"}
    ]
    url = {
        "version": "2.0",
        "rawPath": "/",
        "requestContext": {"http": {"method": "POST"}, "domainName": "x.lambda-url.us-east-1.on.aws"},
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"fail": True}),
        "isBase64Encoded": False,
    }
    answer = app.handle(url)
    assert answer["statusCode"] == 422 and json.loads(answer["body"])["error"]["message"] == "refused"
    url["body"] = json.dumps({"teapot": True})
    answer = app.handle(url)
    assert answer["statusCode"] == 418 and "short and stout" in answer["body"]
    with pytest.raises(ServiceError, match=r"returned 0 answer\(s\) for 1 input\(s\); it must return one answer"):
        app.hooks["inference"](
            [__import__("lit_runtime.adapters", fromlist=["Body"]).Body(b'{"count": true}', "application/json")],
            app.ctx,
        )


def test_a_service_class_gets_initialize_then_handle(tmp_path: Path) -> None:
    app = _project(
        tmp_path,
        "import os\n\n"
        "class Service:\n"
        "    def initialize(self, context):\n"
        "        self.files = sorted(os.listdir(context.system_properties['model_dir']))\n"
        "        self.name = context.manifest['model']['modelName']\n\n"
        "    def handle(self, data, context):\n"
        "        return [{'files': self.files, 'name': self.name, 'text': row['body']} for row in data]\n",
        {"runtime": "python", "model": {"modelName": "svc", "handler": "service"}, "modelServerVersion": "1.0"},
    )
    answer = app.handle({"body": "hello", "contentType": "text/plain"})["predictions"]
    assert answer == [{"files": ["MAR-INF", "m.onnx", "service.py"], "name": "svc", "text": "hello"}]


def test_a_handler_that_writes_beside_its_model_gets_a_writable_copy(tmp_path: Path, monkeypatch) -> None:
    from lit_runtime import adapters

    copy = adapters.writable_copy
    monkeypatch.setattr(adapters, "writable_copy", lambda model_dir: copy(model_dir, tmp_path / "tmp-model"))
    code = (
        "import os\n\n"
        "def handle(data, context):\n"
        "    model_dir = context.system_properties['model_dir']\n"
        "    if data is None:\n"
        "        with open(os.path.join(model_dir, 'cache.txt'), 'w') as f:\n"
        "            f.write('warm')\n"
        "        return None\n"
        "    return [open(os.path.join(model_dir, 'cache.txt')).read() for _ in data]\n"
    )
    root = tmp_path / "p"
    status, err = init(_mar(tmp_path / "m.mar", code), root)
    assert status == 0, err
    assert "service.py:6: the handler writes into its model directory" in err
    assert "writable_model = true" in (root / "lit.toml").read_text()
    app = start_app(root)
    assert app.handle({"x": 1})["predictions"] == ["warm"]
    assert not (root / "model" / "cache.txt").exists() and (tmp_path / "tmp-model" / "cache.txt").is_file()
