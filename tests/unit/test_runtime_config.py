"""lit.toml is parsed once: `lit build` writes what the runtime needs as lit.json, and the runtime
reads that file, with no defaults of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lit_runtime import settings

from lit import build, project, runtime_config
from lit.errors import ConfigError

pytestmark = pytest.mark.unit

FULL = """
name = "topics"
[model]
path = "model"
input = "text"
labels = "labels.txt"
top_k = 2
epoch = 7
input_shape = [1, 16]
task = "embed"
[text]
max_length = 48
padding = "max_length"
truncation = false
[embed]
pooling = "cls"
normalize = true
output = "pooled"
[output]
s3 = "s3://bucket/predictions"
"""
FULL_IMAGE = """
name = "shapes"
[model]
path = "model"
task = "detect"
[image]
size = [32, 24]
color = "bgr"
scale = 1.0
mean = [0.5, 0.25, 0.125]
std = 0.5
max_pixels = 1000
[detect]
score_threshold = 0.5
iou_threshold = 0.3
max_detections = 7
"""


def make(root: Path, text: str) -> Path:
    (root / "model").mkdir(parents=True, exist_ok=True)
    (root / "model" / "net-symbol.json").write_text("{}")
    (root / "model" / "tokenizer.json").write_text("{}")
    (root / "labels.txt").write_text("sports\n\npolitics\n")
    (root / "lit.toml").write_text(text)
    return root


def runtime_view(proj: project.Project, root: Path, tmp_path: Path) -> settings.Settings:
    """What the runtime reads in an image whose task root is `root`."""
    return settings.load(root, runtime_config.write(proj, tmp_path / "image" / "lit.json"))


def test_every_value_of_lit_toml_reaches_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    monkeypatch.delenv("LIT_ENGINE", raising=False)
    root = make(tmp_path / "p", FULL)
    proj = project.load(root)
    task = tmp_path / "task"  # the image's task root: the model under model/
    got = runtime_view(proj, task, tmp_path)
    assert (got.name, got.engine, got.input_kind, got.top_k, got.epoch) == ("topics", "mxnet", "text", 2, 7)
    assert got.labels == ("sports", "politics"), "carried in the config, blank lines left out"
    assert got.input_shape == (1, 16) and got.output_s3 == "s3://bucket/predictions"
    assert got.model_url is None and got.model_sha256 is None and got.model_dir == task / "model"
    assert got.task == "embed" and (got.embed.pooling, got.embed.normalize, got.embed.output) == ("cls", True, "pooled")
    image_view = runtime_view(project.load(make(tmp_path / "i", FULL_IMAGE)), task, tmp_path)
    image = image_view.image
    assert (image.size, image.color, image.scale, image.max_pixels) == ((32, 24), "bgr", 1.0, 1000)
    assert image.mean == (0.5, 0.25, 0.125) and image.std == (0.5,)
    assert image_view.task == "detect" and image_view.detect == settings.DetectOptions(0.5, 0.3, 7)
    assert got.text is not None and got.text.tokenizer == task / "model" / "tokenizer.json"
    assert (got.text.max_length, got.text.padding, got.text.truncation) == (48, "max_length", False)


def test_the_runtime_takes_the_cli_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIT_ENGINE", raising=False)
    root = make(tmp_path / "p", 'name = "plain"\n[model]\npath = "model"\n')
    got = runtime_view(project.load(root), root, tmp_path)
    defaults = project.Image()
    assert (got.image.size, got.image.color, got.image.scale) == (defaults.size, defaults.color, defaults.scale)
    assert (got.image.mean, got.image.std, got.image.max_pixels) == (defaults.mean, defaults.std, defaults.max_pixels)
    assert got.top_k == project.Project.top_k and got.epoch is None and got.labels == () and got.text is None


def test_the_runtime_has_no_defaults_of_its_own(tmp_path: Path) -> None:
    """Every value the CLI writes is required: a configuration missing one is refused, not filled in."""
    root = make(tmp_path / "p", FULL)
    doc = runtime_config.document(project.load(root))
    image = runtime_config.document(project.load(make(tmp_path / "i", FULL_IMAGE)))
    doc = {**doc, "image": image["image"], "detect": image["detect"]}

    def leaves(node: dict[str, Any], trail: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = []
        for key, value in node.items():
            found += leaves(value, (*trail, key)) if isinstance(value, dict) else [(*trail, key)]
        return found

    for trail in leaves(doc):
        broken = json.loads(json.dumps(doc))
        holder = broken
        for key in trail[:-1]:
            holder = holder[key]
        del holder[trail[-1]]
        path = tmp_path / "broken.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(settings.ConfigError, match="rebuild the image with `lit build`"):
            settings.load(root, path)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "not found: this image was not built by `lit build`"),
        ("name = 'x'", "is not JSON"),
        ('{"schema": 1}', "has schema 1, this runtime reads schema 3"),
        ("[1, 2]", "has schema None"),
        ('{"schema": 3, "name": "x", "model": {}}', "KeyError"),
    ],
)
def test_a_missing_or_foreign_configuration_names_the_rebuild(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "lit.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(settings.ConfigError) as err:
        settings.load(tmp_path, path)
    assert needle in str(err.value) and "lit build" in str(err.value)


def test_a_tokenizer_is_found_where_the_image_puts_it(tmp_path: Path) -> None:
    """Beside a model given as one file, the tokenizer goes to the task root with the code (only the
    model's own files go under model/); the config says so, and the build context agrees."""
    root = tmp_path / "p"
    (root / "export").mkdir(parents=True)
    (root / "export" / "topics.onnx").write_bytes(b"onnx")
    (root / "export" / "tokenizer.json").write_text("{}")
    text = 'name = "t"\n[model]\npath = "export/topics.onnx"\nformat = "onnx"\ninput = "text"\n'
    (root / "lit.toml").write_text(text)
    proj = project.load(root)
    assert runtime_config.tokenizer(proj) == {"in": "task", "path": "export/tokenizer.json"}
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    build.assemble(proj, ctx, "lit-base:test", None)
    written = json.loads((ctx / "code" / "lit.json").read_text())
    assert written == runtime_config.document(proj)
    assert (ctx / "code" / "export" / "tokenizer.json").is_file() and not (ctx / "model" / "tokenizer.json").exists()
    got = settings.load(ctx / "code", ctx / "code" / "lit.json")
    assert got.text is not None and got.text.tokenizer == ctx / "code" / "export" / "tokenizer.json"

    (root / "lit.toml").write_text(text + '[build]\nexclude = ["tokenizer.json"]\n')
    (tmp_path / "ctx2").mkdir()
    with pytest.raises(ConfigError, match="left out of the image by \\[build\\] exclude"):
        build.assemble(project.load(root), tmp_path / "ctx2", "lit-base:test", None)


def test_a_tokenizer_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = make(
        tmp_path / "p", 'name = "t"\n[model]\npath = "model"\ninput = "text"\n[text]\ntokenizer = "../tok.json"\n'
    )
    (tmp_path / "tok.json").write_text("{}")
    with pytest.raises(ConfigError, match="outside the project, so the image would not carry it"):
        runtime_config.document(project.load(root))


def test_the_projects_own_lit_json_is_not_silently_replaced(digits_stub: Path, tmp_path: Path) -> None:
    (digits_stub / "lit.json").write_text("{}")
    (tmp_path / "ctx").mkdir()
    with pytest.raises(ConfigError, match="is LIT's own"):
        build.assemble(project.load(digits_stub), tmp_path / "ctx", "lit-base:test", None)
    config = (digits_stub / "lit.toml").read_text()
    (digits_stub / "lit.toml").write_text(config.replace('"heldout"]', '"heldout", "lit.json"]'))
    (tmp_path / "ctx2").mkdir()
    build.assemble(project.load(digits_stub), tmp_path / "ctx2", "lit-base:test", None)
    assert json.loads((tmp_path / "ctx2" / "code" / "lit.json").read_text())["name"] == "digits"


def test_the_image_label_tells_an_image_built_from_another_lit_toml(digits_stub: Path) -> None:
    proj = project.load(digits_stub)
    built = {"Config": {"Labels": {runtime_config.LABEL: runtime_config.digest(proj)}}}
    assert f'{runtime_config.LABEL}="{runtime_config.digest(proj)}"' in build.dockerfile(proj, "lit-base:test")
    assert not runtime_config.stale(proj, built)
    config = digits_stub / "lit.toml"
    original = config.read_text()
    config.write_text(original.replace("memory = 1024", "memory = 2048"))
    assert not runtime_config.stale(project.load(digits_stub), built), "[function] is applied at deploy, not built in"
    config.write_text(original.replace("top_k = 3", "top_k = 4"))
    assert runtime_config.stale(project.load(digits_stub), built)
    config.write_text(original)
    (digits_stub / "labels.txt").write_text((digits_stub / "labels.txt").read_text() + "extra\n")
    assert runtime_config.stale(project.load(digits_stub), built), "the labels are carried in the image"
    assert not runtime_config.stale(project.load(digits_stub), {"Config": {"Labels": {}}}), "not built by lit build"
