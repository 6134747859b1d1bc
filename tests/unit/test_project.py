"""lit.toml validation: every mistake gets one message naming the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lit import project
from lit.errors import ConfigError

pytestmark = pytest.mark.unit

GOOD = """
name = "digits"
[model]
path = "model"
labels = "labels.txt"
[image]
size = [8, 8]
color = "gray"
[function]
memory = 1769
timeout = 10
"""


def make(tmp_path: Path, text: str, model: bool = True) -> Path:
    (tmp_path / "lit.toml").write_text(text)
    (tmp_path / "labels.txt").write_text("a\nb\n")
    if model:
        (tmp_path / "model").mkdir(exist_ok=True)
        (tmp_path / "model" / "net-symbol.json").write_text("{}")
    return tmp_path


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    p = project.load(make(tmp_path, GOOD))
    assert p.name == "digits" and p.input_kind == "image" and p.model_format == "mxnet"
    assert p.function.memory == 1769 and p.function.cpus == 1.0 and p.function.timeout == 10
    assert p.function.ephemeral_storage == 512 and p.requirements is None
    assert p.image_repo == "lit-digits"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name = 'x'\n[model]\npath = 'model'\nformt = 'mxnet'\n", "unknown key"),
        ("[model]\npath = 'model'\n", "missing key 'name'"),
        ("name = 'Bad Name'\n[model]\npath = 'model'\n", "not usable"),
        ("name = 'x'\n", "missing [model]"),
        ("name = 'x'\n[model]\nformat = 'mxnet'\n", "missing key [model] path"),
        ("name = 'x'\n[model]\npath = 'nowhere'\n", "does not exist"),
        ("name = 'x'\n[model]\npath = 'model'\nformat = 'tflite'\n", "not supported"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'audio'\n", "not known"),
        ("name = 'x'\n[model]\npath = 'model'\n[function]\nmemory = 64\n", "outside Lambda's range"),
        ("name = 'x'\n[model]\npath = 'model'\n[function]\ntimeout = '30'\n", "must be int"),
        ("name = 'x'\n[model]\npath = 'model'\n[function]\nmemory = true\n", "must be int"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nsize = [8]\n", "[width, height]"),
        ("name = 'x'\n[model]\npath = 'model'\ntop_k = 0\n", "top_k = 0"),
        ("name = 'x'\n[model]\npath = 'model'\nepoch = -1\n", "epoch = -1"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nscale = 0\n", "scale = 0"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nmean = [0.5, 0.5]\n", "a number or 3 (one per channel)"),
        (
            "name = 'x'\n[model]\npath = 'model'\n[image]\ncolor = 'gray'\nstd = [1, 2, 3]\n",
            "one number (gray has one channel)",
        ),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nstd = [1.0, 0.0, 1.0]\n", "std has a 0"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nmean = true\n", "must be int or float or list"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nmax_pixels = 0\n", "max_pixels = 0"),
        ("name = 'x'\n[model]\npath = 'model'\nlabels = 'none.txt'\n", "labels file"),
        ("name = 'x'\n[model\npath = 'model'\n", "not valid TOML"),
        (
            "name = 'x'\n[model]\npath = 's3://b/m'\nformat = 'onnx'\nengine = 'mxnet'\nsha256 = '" + "a" * 64 + "'\n",
            "cannot run on mxnet",
        ),
        ("name = 'x'\n[model]\npath = 'model'\nengine = 'tensorrt'\n", "engine 'tensorrt' is not known"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'tensor'\nengine = 'onnxruntime'\n", "input_shape"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'text'\n", "tokenizer"),
        ("name = 'x'\n[model]\npath = 'model'\n[text]\nmax_length = 64\n", "[model] input is 'image'"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'text'\n[text]\npadding = 'left'\n", "padding"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'text'\n[text]\nmax_length = 0\n", "max_length"),
        ("name = 'x'\n[model]\npath = 'model'\nformat = 'onnx'\n", "not one .onnx file"),
        ("name = 'x'\n[model]\npath = 'model'\n[output]\ns3 = 'gs://x'\n", "not an s3://"),
        ("name = 'x'\n[model]\npath = 'model'\ntask = 'segment'\n", "task 'segment' is not known"),
        ("name = 'x'\n[model]\npath = 'model'\n[embed]\npooling = 'mean'\n", "[embed] is set but [model] task"),
        ("name = 'x'\n[model]\npath = 'model'\ntask = 'embed'\n[embed]\npooling = 'sum'\n", "pooling 'sum'"),
        ("name = 'x'\n[model]\npath = 'model'\ntask = 'detect'\n[detect]\niou_threshold = 1.5\n", "outside 0..1"),
        ("name = 'x'\n[model]\npath = 'model'\ntask = 'detect'\n[detect]\nmax_detections = 0\n", "max_detections"),
        ("name = 'x'\n[model]\npath = 'model'\ninput = 'tensor'\n[image]\nsize = [8, 8]\n", "never reads it"),
        ("name = 'adv-'\n[model]\npath = 'model'\n", "not usable"),
        ("name = 'a_-b'\n[model]\npath = 'model'\n", "not usable"),
        ("name = 'x'\n[model]\npath = 'model'\n[build]\nexclude = [1, 2]\n", "list of strings"),
        ("name = 'x'\n[model]\npath = 'model'\n[function]\nenvironment = { A = { b = 1 } }\n", "not a value"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nmean = nan\n", "[image] mean"),
        ("name = 'x'\n[model]\npath = 'model'\n[image]\nscale = inf\n", "scale = inf"),
        ("name = 'x'\n[model]\npath = 'model'\nlabels = '../outside.txt'\n", "outside the project"),
        ("name = 'x'\n[model]\npath = 'model'\nlabels = '/etc/hostname'\n", "outside the project"),
        ("name = 'x'\n[model]\npath = 'model'\n[build]\nrequirements = '../outside.txt'\n", "outside the project"),
        ("name = 'x'\n[model]\npath = 'model'\ninput_shape = [100000, 100000, 100000]\n", "MB of float32 per example"),
    ],
)
def test_bad_config_names_cause_and_fix(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        project.load(make(tmp_path, text))
    assert needle in str(err.value)
    assert err.value.fix, "every config error carries a fix"
    assert err.value.exit_code == 2


def test_missing_lit_toml_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lit init"):
        project.load(tmp_path)


def test_model_dir_without_symbol_file(tmp_path: Path) -> None:
    make(tmp_path, "name = 'x'\n[model]\npath = 'empty'\n")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="symbol.json"):
        project.load(tmp_path)


def test_engine_follows_the_format_unless_set(tmp_path: Path) -> None:
    assert project.load(make(tmp_path, GOOD)).engine == "mxnet"
    (tmp_path / "model" / "net.onnx").write_bytes(b"onnx")
    onnx = GOOD.replace('path = "model"', 'path = "model/net.onnx"\nformat = "onnx"')
    loaded = project.load(make(tmp_path, onnx))
    assert loaded.engine == "onnxruntime" and not loaded.converts
    legacy = project.load(make(tmp_path, onnx.replace('format = "onnx"', 'format = "onnx"\nengine = "mxnet"')))
    assert legacy.engine == "mxnet" and legacy.converts
    exported = project.load(make(tmp_path, GOOD.replace('path = "model"', 'path = "model"\nengine = "onnxruntime"')))
    assert exported.engine == "onnxruntime" and exported.converts and exported.image.size == (8, 8)


def test_onnx_from_a_model_bucket_runs_on_onnxruntime(tmp_path: Path) -> None:
    text = "name = 'x'\n[model]\npath = 's3://b/m'\nformat = 'onnx'\nsha256 = '" + "a" * 64 + "'\n"
    loaded = project.load(make(tmp_path, text, model=False))
    assert loaded.engine == "onnxruntime" and loaded.model_path is None and not loaded.converts


def test_text_input_finds_the_tokenizer_beside_the_model(tmp_path: Path) -> None:
    make(tmp_path, "name = 'x'\n[model]\npath = 'model'\ninput = 'text'\n[text]\nmax_length = 64\n")
    (tmp_path / "model" / "tokenizer.json").write_text("{}")
    loaded = project.load(tmp_path)
    assert loaded.text is not None and loaded.text.tokenizer == (tmp_path / "model" / "tokenizer.json").resolve()
    assert loaded.text.max_length == 64 and loaded.text.padding == "longest" and loaded.text.truncation


def test_a_model_outside_the_project_is_refused_but_a_link_inside_is_followed(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    outside = tmp_path / "models" / "digits"
    outside.mkdir(parents=True)
    (outside / "net-symbol.json").write_text("{}")
    make(proj, GOOD.replace('path = "model"', 'path = "../models/digits"'), model=False)
    with pytest.raises(ConfigError, match="outside the project") as err:
        project.load(proj)
    assert "copy the model into the project" in err.value.fix
    (proj / "model").symlink_to(outside)
    make(proj, GOOD, model=False)
    assert project.load(proj).model_path == outside.resolve()


def test_a_symlinked_labels_file_is_followed_inside_and_refused_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("a\nb\n")
    (tmp_path / "p").mkdir()
    root = make(tmp_path / "p", "name = 'x'\n[model]\npath = 'model'\nlabels = 'labels.txt'\n")
    (root / "labels.txt").unlink()
    (root / "labels.txt").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the project"):
        project.load(root)
    (root / "real.txt").write_text("a\n")
    (root / "labels.txt").unlink()
    (root / "labels.txt").symlink_to(root / "real.txt")
    assert project.load(root).labels == root / "labels.txt"


ADAPTED = 'name = "mar"\n[model]\npath = "model"\n[adapter]\nkind = "mms"\nhandler = "service:handle"\n'


def test_an_adapter_project_reads_bodies_and_keeps_the_model_files(tmp_path: Path) -> None:
    root = make(tmp_path, ADAPTED)
    (root / "model" / "service.py").write_text("def handle(data, context):\n    return data\n")
    p = project.load(root)
    assert p.adapter is not None and p.adapter.code == root / "model" and p.adapter.kind == "mms"
    assert p.input_kind == project.BODY and not p.converts


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('path = "model"', 'path = "model"\ninput = "image"', "an [adapter] handler reads each request's body as sent"),
        ('path = "model"', 'path = "model"\ntask = "classify"', "[model] task is set, but the [adapter]'s handler"),
        ('kind = "mms"', 'kind = "torch"', "[adapter] kind 'torch' is not known"),
        ('"service:handle"', '"service:handle:x"', "is not module, module:function or module:Class"),
        ('"service:handle"', '"missing:handle"', "handler module 'missing' is not in"),
        ('kind = "mms"', 'kind = "mms"\nwritable_model = 1', "[adapter] writable_model must be bool"),
        ('name = "mar"', 'name = "mar"\n[image]\nsize = [8, 8]', "[image] is set but [model] input is 'body'"),
    ],
)
def test_adapter_mistakes_are_named(tmp_path: Path, old: str, new: str, needle: str) -> None:
    assert old in ADAPTED
    root = make(tmp_path, ADAPTED.replace(old, new))
    (root / "model" / "service.py").write_text("def handle(data, context):\n    return data\n")
    with pytest.raises(ConfigError, match=re.escape(needle)):
        project.load(root)


def test_a_service_py_beside_an_adapter_is_refused(tmp_path: Path) -> None:
    root = make(tmp_path, ADAPTED)
    (root / "model" / "service.py").write_text("def handle(data, context):\n    return data\n")
    (root / "service.py").write_text("def preprocess(data, context):\n    return data\n")
    with pytest.raises(ConfigError, match="service.py is set, but the") as err:
        project.load(root)
    assert "remove service.py" in err.value.fix


def test_body_input_without_an_adapter_is_not_a_kind(tmp_path: Path) -> None:
    root = make(tmp_path, GOOD.replace('labels = "labels.txt"', 'labels = "labels.txt"\ninput = "body"'))
    with pytest.raises(ConfigError, match=r"input 'body' is not known \(it is for an \[adapter\] handler\)"):
        project.load(root)
