"""`lit init DIR --from ARCHIVE`: a project made from another model server's archive, its handler kept.

ARCHIVE is a Model Server archive (`.mar`: MXNet/Multi Model Server or TorchServe, a zip with
MAR-INF/MANIFEST.json) or a SageMaker model artifact (`model.tar.gz`, with `code/inference.py`), a
file or an s3:// URL. It is unpacked into the project's model/ directory; a format's reader
(`archive_mar`, `archive_sagemaker`) says what it holds (a `Found`), and lit.toml's [adapter] names
the handler, which the image runs through `lit_runtime.adapters`.
"""

from __future__ import annotations

import importlib
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigError, LitError

MANIFEST = "MAR-INF/MANIFEST.json"
MAX_UNPACKED = 10 * 1024**3  # Lambda's largest image: an archive that unpacks to more cannot be served
READERS = {"mar": "lit.archive_mar", "sagemaker": "lit.archive_sagemaker"}
MODEL_DIR = "model"
FIX = (
    "pass a Model Server archive (.mar, made by model-archiver or torch-model-archiver) or a SageMaker "
    "model artifact (model.tar.gz with code/inference.py)"
)


@dataclass
class Found:
    """What a format's reader found in an unpacked archive: what lit.toml and the image need."""

    kind: str  # the [adapter] kind: mms | torchserve | sagemaker
    handler: str  # module, module:function or module:Class
    model_dir: Path  # the model files, inside the project (the handler's model_dir)
    model_format: str  # mxnet | onnx
    engine: str  # mxnet | onnxruntime: the base the image is built on
    code_dir: Path | None = None  # where the handler imports from; None: the model directory
    labels: Path | None = None  # a labels file, one label a line
    requirements: list[str] = field(default_factory=list)  # pip lines the handler needs beyond the base
    writable_model: bool = False  # the handler writes beside its model
    notes: list[str] = field(
        default_factory=list
    )  # what Lambda lacks that the handler uses: file:line, and what LIT does
    facts: dict[str, Any] = field(default_factory=dict)  # what else the archive states, for lit.toml's comments


def is_archive(path: Path) -> bool:
    """Whether the file is a zip or a tar (by its content): an archive for `read`, not a model file."""
    return path.is_file() and (zipfile.is_zipfile(path) or tarfile.is_tarfile(path))


def detect(path: Path) -> str:
    """The archive's format: "mar" or "sagemaker"."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
        if MANIFEST in names:
            return "mar"
        raise ConfigError(
            f"{path} is a zip without {MANIFEST}, so not a Model Server archive",
            "pack the model with model-archiver or torch-model-archiver (they write the manifest), " + FIX[2:],
        )
    if tarfile.is_tarfile(path):
        return "sagemaker"
    raise ConfigError(f"{path} is neither a zip (.mar) nor a tar (model.tar.gz)", FIX[0].upper() + FIX[1:])


def unpack(path: Path, dest: Path, limit: int = MAX_UNPACKED) -> None:
    """Unpack into dest, refusing what could land outside it (absolute paths, `..`, links and
    device files) and archives that unpack to more than `limit` bytes."""
    total = 0

    def admit(name: str, size: int) -> PurePosixPath:
        nonlocal total
        rel = PurePosixPath(name.replace("\\", "/"))
        if not rel.parts or rel.is_absolute() or ".." in rel.parts or ":" in rel.parts[0]:
            raise ConfigError(f"{path}: the member {name!r} would unpack outside the project", "rebuild the archive")
        total += size
        if total > limit:
            raise ConfigError(
                f"{path} unpacks to more than {limit // 1024**2} MB, over what a Lambda image can hold",
                "serve a smaller model, or fetch it from a model bucket at cold start ([model] path = s3://...)",
            )
        return rel

    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                rel = admit(info.filename, info.file_size)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ConfigError(
                        f"{path}: the member {info.filename!r} is a link", "rebuild the archive without links"
                    )
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
        return
    try:
        with tarfile.open(path) as tf:
            members = tf.getmembers()
            for member in members:
                admit(member.name, member.size)
                if not (member.isfile() or member.isdir()):
                    raise ConfigError(
                        f"{path}: the member {member.name!r} is a link or a device", "rebuild the archive without them"
                    )
            tf.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ConfigError(
            f"{path} could not be unpacked: {exc}", "check the file is whole (download it again)"
        ) from None


def local_copy(source: str, workdir: Path, s3: Callable[[], Any] | None = None) -> Path:
    """The archive as a local file: the path itself, or an s3:// object downloaded into workdir
    through the model bucket's client."""
    if not source.startswith("s3://"):
        path = Path(source)
        if not path.is_file():
            raise LitError(f"{source} does not exist", FIX[0].upper() + FIX[1:])
        return path
    from .model import split

    if s3 is None:
        raise LitError(f"{source}: no AWS session to read it with", "pass --region or set AWS_REGION")
    bucket, key = split(source)
    if not key:
        raise ConfigError(f"{source} names no object", "pass s3://BUCKET/path/to/model.tar.gz (or .mar)")
    dest = workdir / PurePosixPath(key).name
    workdir.mkdir(parents=True, exist_ok=True)
    s3().download(bucket, key, dest)
    return dest


def read(source: str, root: Path, s3: Callable[[], Any] | None = None) -> Found:
    """Unpack the archive into ROOT/model and read it with its format's reader."""
    model_dir = root / MODEL_DIR
    if model_dir.exists() and any(model_dir.iterdir()):
        raise LitError(f"{model_dir} is not empty", "pick a new directory (the archive unpacks into DIR/model)")
    with tempfile.TemporaryDirectory(prefix="lit-archive-") as tmp:
        path = local_copy(source, Path(tmp), s3)
        fmt = detect(path)
        try:
            unpack(path, model_dir)
            found: Found = importlib.import_module(READERS[fmt]).read(model_dir, root)
        except BaseException:
            shutil.rmtree(model_dir, ignore_errors=True)  # nothing half made is left for the next try
            raise
    return found


def toml(found: Found, root: Path, name: str, source: str) -> str:
    """lit.toml for what was found: [model], [adapter] and [function], each line's reason beside it."""
    rel = found.model_dir.relative_to(root).as_posix()
    lines = [
        f"# Made by `lit init --from {source}`: the archive's handler runs as it was (lit_runtime.adapters).",
        f'name = "{name}"',
        "",
    ]
    lines += ["[model]", f'path = "{rel}"', f'format = "{found.model_format}"', f'engine = "{found.engine}"']
    if found.labels is not None:
        lines.append(f'labels = "{found.labels.relative_to(root).as_posix()}"')
    lines += ["", "[adapter]", f'kind = "{found.kind}"', f'handler = "{found.handler}"']
    if found.code_dir is not None and found.code_dir != found.model_dir:
        lines.append(f'code = "{found.code_dir.relative_to(root).as_posix()}"')
    if found.writable_model:
        lines.append("writable_model = true    # the handler writes beside its model: it gets a copy in /tmp")
    lines.append(f'source = "{source}"')
    lines += ["", "[function]", "memory = 2048", "timeout = 30", ""]
    for key, value in found.facts.items():
        lines.append(f"# the archive states {key}: {value}")
    return "\n".join(lines) + "\n"


def write(
    root: Path, source: str, name: str | None = None, force: bool = False, s3: Callable[[], Any] | None = None
) -> tuple[list[Path], list[str]]:
    """The project at root, made from the archive. Returns the files written and the notes: what the
    handler relies on that Lambda does not have, and what LIT does instead."""
    from .scaffold import project_name

    root = root.resolve()
    config = root / "lit.toml"
    if config.exists() and not force:
        raise LitError(f"{config} already exists", "pick another directory, or pass --force to overwrite")
    root.mkdir(parents=True, exist_ok=True)
    found = read(source, root, s3)
    written = [found.model_dir]
    if found.requirements:
        requirements = root / "requirements.txt"
        requirements.write_text("\n".join(found.requirements) + "\n")
        written.append(requirements)
    config.write_text(toml(found, root, project_name(root, name), source))
    written.append(config)
    return written, found.notes
