"""`lit build`: a function image FROM the base, in layers base -> extra requirements -> model -> code.

Editing only code rebuilds just the top layer (seconds); a new model rebuilds model + code.
The image is built under a temporary tag and checked (the runtime's init runs in it: config,
hooks, model load, warm-up) before it takes the real tag, so a broken build never replaces a
good image.
"""

from __future__ import annotations

import calendar
import fnmatch
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import arch, base, cache, progress, runtime_config
from .docker import Docker, RunSpec, Stopped, signalled
from .errors import ConfigError, EngineError, LitError
from .project import CONFIG, Project

ALWAYS_EXCLUDED = (
    ".git",
    ".hg",
    ".lit",
    "__pycache__",
    "*.pyc",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".DS_Store",
)


@dataclass(frozen=True)
class BuildResult:
    image: str
    id: str
    base: str
    size: int
    seconds: float
    layers: list[dict[str, object]]
    decisions: list[str] = field(default_factory=list)  # what the image check decided from the graph


CHECK_LABEL = "lit.check"  # on the container of `lit build`'s image check
IMAGE_LABEL = "lit.function"  # on a function image: the function it is
ONNX_PACKAGES = '"onnx==1.15.0" "numpy==1.23.5"'  # onnx.mapping, which MXNet's importer uses, left in 1.16


def built_image(docker: Docker, project: Project, image: str | None = None) -> tuple[str, dict[str, Any]]:
    """The project's image (or the one given) and its inspect data; a clear error when it is not built."""
    ref = image or f"{project.image_repo}:latest"
    info = docker.image(ref)
    if info is None:
        raise LitError(f"image {ref} does not exist", f"build it with `lit build {project.root}`")
    return ref, info


def _pip(packages: str) -> str:
    return (
        "/opt/lit/bin/python -m ensurepip >/dev/null"
        " && if [ -s /tmp/lit/ca-bundle.crt ]; then export PIP_CERT=/tmp/lit/ca-bundle.crt; fi"
        f" && /opt/lit/bin/python -m pip install -q --no-cache-dir --disable-pip-version-check {packages}"
    )


def needs_pip(project: Project) -> bool:
    """Whether a build stage installs packages (and so needs the host's CA bundle)."""
    return project.requirements is not None or project.converts


def export_shape(project: Project) -> str:
    """One batch's shape for exporting an MXNet model to ONNX (the batch dimension stays dynamic)."""
    if project.input_kind == "image":
        channels = 1 if project.image.color == "gray" else 3
        width, height = project.image.size
        return f"1,{channels},{height},{width}"
    return ",".join(str(v) for v in (1, *project.input_shape))


def dockerfile(project: Project, base_image: str, mxnet_base: str | None = None) -> str:
    """The function image's Dockerfile: throwaway stages for model conversion or optimisation and
    extra requirements, then base -> requirements -> model -> code."""
    lines: list[str] = []
    model_from = "COPY model/ /var/task/model/"
    if project.converts and project.engine == "mxnet":
        lines += [
            f"FROM {base_image} AS convert",
            f"LABEL lit.stage=function-build lit.project={project.name}",
            "COPY ca-bundle.crt /tmp/lit/",
            f"RUN {_pip(ONNX_PACKAGES)}",
            "COPY model/ /tmp/lit/onnx/",
            # The conversion runs here, so the function image carries no onnx package, and an
            # operator MXNet cannot import fails the build, not the first request.
            "RUN /opt/lit/bin/python -m lit_runtime.onnx_import /tmp/lit/onnx /opt/lit-model",
            "",
        ]
        model_from = "COPY --from=convert /opt/lit-model/ /var/task/model/"
    # An [adapter]'s handler loads the model files by their own names, so they go in as they are.
    if project.model_path is not None and project.engine == "onnxruntime" and project.adapter is None:
        onnx_from = "COPY model/ /tmp/lit/onnx/"
        if project.model_format == "mxnet":
            lines += [
                f"FROM {mxnet_base or base.default_tag('mxnet', project.function.architecture)} AS export",
                f"LABEL lit.stage=function-build lit.project={project.name}",
                "COPY ca-bundle.crt /tmp/lit/",
                f"RUN {_pip(ONNX_PACKAGES)}",
                "COPY model/ /tmp/lit/mxnet/",
                # MXNet -> ONNX with the weights out of graph.input, and MXNet's answer to a
                # seeded batch, which the check compares ONNX Runtime's against.
                f"RUN /opt/lit/bin/python -m lit_runtime.mx_export /tmp/lit/mxnet /opt/lit-onnx "
                f"--shape {export_shape(project)}",
                "",
            ]
            onnx_from = "COPY --from=export /opt/lit-onnx/ /tmp/lit/onnx/"
        lines += [
            f"FROM {base_image} AS optimize",
            f"LABEL lit.stage=function-build lit.project={project.name}",
            onnx_from,
            # ONNX Runtime loads the graph here (an operator or opset it cannot run fails the
            # build) and saves it with its portable optimisations done: less work at cold start.
            "RUN /opt/lit/bin/python -m lit_runtime.onnxrt optimize /tmp/lit/onnx /opt/lit-model",
            "",
        ]
        model_from = "COPY --from=optimize /opt/lit-model/ /var/task/model/"
    if project.requirements is not None:
        lines += [
            f"FROM {base_image} AS deps",
            f"LABEL lit.stage=function-build lit.project={project.name}",
            "COPY ca-bundle.crt requirements.txt /tmp/lit/",
            # pip is not in the base image (it is a build tool); ensurepip brings it back in this
            # throwaway stage, and --prefix keeps the new packages apart from the base's.
            # The base's own packages are constraints: a requirement that would replace numpy
            # (and break the engine) fails here, with pip's explanation, not at import on Lambda.
            "RUN /opt/lit/bin/python -m ensurepip >/dev/null && /opt/lit/bin/python -m pip freeze --all"
            " | grep -v -E '^(pip|setuptools)==' > /tmp/lit/base-constraints.txt",
            f"RUN {_pip('--prefix /opt/extra -c /tmp/lit/base-constraints.txt -r /tmp/lit/requirements.txt')}",
            "",
        ]
    lines.append(f"FROM {base_image}")
    if project.requirements is not None:
        lines.append("COPY --from=deps /opt/extra /opt/extra")
    lines += [
        model_from,
        "COPY code/ /var/task/",
        f'LABEL {IMAGE_LABEL}="{project.name}" lit.engine="{project.engine}" '
        f'{runtime_config.LABEL}="{runtime_config.digest(project)}"',
        'CMD ["lit_runtime.handler.handler"]',
    ]
    return "\n".join(lines) + "\n"


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(part, pat) for part in parts for pat in patterns) or any(
        fnmatch.fnmatch(rel, pat) for pat in patterns
    )


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def model_files(model: Path) -> list[Path]:
    """A model given as one file, with the files that belong to it: an .onnx file's external
    data (NAME.onnx.data, NAME.data, as exporters name them)."""
    siblings = [p for p in model.parent.iterdir() if p.is_file() and p != model]
    return [model, *(p for p in siblings if p.name.startswith(model.name + ".") or p.name == model.stem + ".data")]


def project_files(
    project: Project, top: Path, patterns: tuple[str, ...], skip: set[Path]
) -> Iterator[tuple[Path, str]]:
    """The files under `top` that go into the image, as (the real file, its path relative to `top`).
    A symlink is followed when its target is inside the project (the image gets the file, never a
    link), and refused, naming it, when the target is outside: nothing from outside the project
    enters an image. Excluded paths and `skip` (the model, already in model/) are left out. (A model
    directory the project links to elsewhere, as [model] path allows, is its own such root.)"""
    root = project.root.resolve()
    if not top.resolve().is_relative_to(root):
        root = top.resolve()
    seen: set[Path] = set()

    def inside(path: Path, rel: str) -> Path:
        target = path.resolve()
        if not target.exists() or not target.is_relative_to(root):
            where = "a dangling link" if not target.exists() else f"outside the project ({root})"
            raise ConfigError(
                f"{project.root / CONFIG}: {rel} is a symlink to {target}, {where}",
                f"copy what it points at into the project, or add {rel!r} to [build] exclude",
            )
        return target

    def walk(directory: Path, prefix: str) -> Iterator[tuple[Path, str]]:
        real = directory.resolve()
        if real in seen:  # a link back up the tree
            return
        seen.add(real)
        for entry in sorted(directory.iterdir()):
            rel = f"{prefix}{entry.name}"
            if _excluded(rel, patterns):
                continue
            target = inside(entry, rel) if entry.is_symlink() else entry
            if target.resolve() in skip:
                continue
            if target.is_dir():
                yield from walk(entry, rel + "/")
            elif target.is_file():
                yield target, rel

    yield from walk(top, "")


def assemble(
    project: Project, ctx: Path, base_image: str, ca_bundle: Path | None, mxnet_base: str | None = None
) -> None:
    """Write the build context: model/ (the model files), code/ (everything else), Dockerfile."""
    model = project.model_path
    (ctx / "model").mkdir()
    if model is not None and model.is_dir():
        for src, rel in project_files(project, model, ALWAYS_EXCLUDED, set()):
            (ctx / "model" / rel).parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(str(src), str(ctx / "model" / rel))
    elif model is not None:
        for path in model_files(model):
            _link_or_copy(str(path), str(ctx / "model" / path.name))
    in_model = {p.resolve() for p in model_files(model)} if model is not None and model.is_file() else set()
    if model is not None and model.is_dir():
        in_model.add(model.resolve())
    code = ctx / "code"
    code.mkdir()
    for src, rel in project_files(project, project.root, ALWAYS_EXCLUDED + project.exclude, in_model):
        (code / rel).parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(str(src), str(code / rel))
    _config(project, code)
    if project.requirements is not None:
        shutil.copy(project.requirements, ctx / "requirements.txt")
    if needs_pip(project):
        (ctx / "ca-bundle.crt").write_bytes(ca_bundle.read_bytes() if ca_bundle else b"")
    (ctx / "Dockerfile").write_text(dockerfile(project, base_image, mxnet_base))


def _config(project: Project, code: Path) -> None:
    """The runtime's configuration (lit.json) beside the code, once the files it names are there."""
    if (code / runtime_config.FILE).exists():
        raise ConfigError(
            f"{project.root / runtime_config.FILE}: the image's {runtime_config.FILE} is LIT's own (the runtime "
            "reads its configuration from it)",
            f"rename that file, or add {runtime_config.FILE!r} to [build] exclude",
        )
    tokenizer = runtime_config.tokenizer(project) if project.text is not None else None
    if tokenizer is not None and tokenizer["in"] == "task" and not (code / tokenizer["path"]).is_file():
        raise ConfigError(
            f"{project.root / CONFIG}: the tokenizer {tokenizer['path']} is left out of the image by [build] exclude",
            "take it out of [build] exclude",
        )
    runtime_config.write(project, code / runtime_config.FILE)


def run_module(
    docker: Docker, image: str, project: Project, module: str, *args: str, labels: dict[str, str] | None = None
) -> Any:
    """`python -m MODULE ARGS` inside the function image, offline, at the function's memory and
    architecture: the runtime's own init (and what it states) as Lambda would run it."""
    architecture = project.function.architecture
    spec = RunSpec(
        image,
        ("-m", module, *args),
        platform=arch.PLATFORMS[architecture],
        network="none",
        entrypoint="/opt/lit/bin/python",
        env={"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(project.function.memory), "LIT_CHECK_OFFLINE": "1"},
        memory_mb=project.function.memory,
        labels=labels or {},
    )
    return docker.run_once(spec, timeout=1800 if arch.emulated(architecture) else 300)


def check(docker: Docker, image: str, project: Project) -> list[str]:
    """Run the runtime's init inside the image; a model that fails to load fails the build. Returns
    what the runtime decided from the graph (its task and why, a fixed batch size)."""
    proc = run_module(docker, image, project, "lit_runtime.check", labels={CHECK_LABEL: project.name})
    if signalled(proc.returncode) and "lit-check: " not in proc.stderr:
        raise LitError(
            f"the image check was stopped (exit code {proc.returncode}) before it finished: killed by a signal, "
            f"or out of memory at [function] memory = {project.function.memory} MB",
            "nothing was tagged; run `lit build` again, with more [function] memory if the model needs it",
        )
    lines = proc.stderr.strip().splitlines()
    ours = [line.removeprefix("lit-check: ") for line in lines if line.startswith("lit-check: ")]
    if proc.returncode == 0:
        return ours
    message = ours[-1] if ours else "\n".join(lines[-10:]) or f"exit code {proc.returncode}"
    raise LitError(
        f"the built image does not start: {message}",
        "fix the model files, lit.toml or service.py named above, then `lit build` again (--no-check skips this test)",
    )


RESULT = "lit-result "  # the build-time tools' result lines (lit_runtime.buildtool.MARK)


def tool_failures(build_log: list[str]) -> dict[str, str]:
    """What each build-time tool that failed said: {tool: error}, from its result line only."""
    failed: dict[str, str] = {}
    for line in build_log:
        if RESULT not in line:
            continue
        # (the classic builder wraps a step's output in colour codes: take the JSON object only)
        text = line.split(RESULT, 1)[1]
        try:
            doc = json.loads(text[: text.rfind("}") + 1])
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and doc.get("ok") is False:
            failed[str(doc.get("tool"))] = str(doc.get("error", ""))
    return failed


def _explain(project: Project, build_log: list[str]) -> LitError:
    """A failed build, said in the user's terms where the log shows a known cause: pip's own
    conflict first (the step that failed), then a build-time tool's failure."""
    # (the classic builder wraps a step's stderr in colour codes: match inside the line)
    conflict = [line.split("ERROR: ", 1)[1] for line in build_log if "ERROR: Cannot install" in line]
    if conflict:
        pins = {"mxnet": "mxnet 1.9.1 needs numpy 1.23.5", "onnxruntime": "onnxruntime 1.32 with numpy 2.2"}
        return LitError(
            f"{project.requirements}: {conflict[-1]} with the base image's own packages ({pins[project.engine]})",
            "pin versions that work with the base's numpy, or drop the requirement",
        )
    failed = tool_failures(build_log)
    if "convert" in failed:
        return LitError(
            f"{project.model_path}: MXNet cannot serve this ONNX model: {failed['convert']}",
            'set [model] engine = "onnxruntime" in lit.toml (ONNX Runtime serves the model as exported), '
            "or re-export it for MXNet 1.9 (torch.onnx.export(..., opset_version=11, dynamo=False))",
        )
    if "onnx" in failed:
        return LitError(
            f"{project.model_path}: {failed['onnx']}",
            "re-export the model with an opset and operators this ONNX Runtime runs (opset 7..23, standard "
            "domains), then `lit build` again",
        )
    if "export" in failed:
        return LitError(
            f"{project.model_path}: the MXNet model cannot be exported to ONNX: {failed['export']}",
            'keep it on MXNet (drop [model] engine = "onnxruntime"), or export it to ONNX yourself',
        )
    tail = "\n".join(build_log[-15:])
    return EngineError(f"docker build failed:\n{tail}", "read the build log above; fix the step that failed")


def ensure_base(docker: Docker, engine: str, architecture: str, log: Callable[[str], None]) -> str:
    """The engine's default base for the architecture, built first when it is missing (minutes,
    once per machine; longer for a foreign architecture, built under emulation)."""
    tag = base.default_tag(engine, architecture)
    if docker.image(tag) is None:
        flags = f"--engine {engine}" + ("" if architecture == "x86_64" else f" --arch {architecture}")
        log(f"base image {tag} is missing: building it (`lit base build {flags}`)")
        base.build(docker, tag, engine, architecture, log=log)
    return tag


def build(
    docker: Docker,
    project: Project,
    tag: str | None = None,
    base_image: str | None = None,
    run_check: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> BuildResult:
    docker.ensure()
    start = time.monotonic()
    architecture = project.function.architecture
    arch.require_emulation(architecture)
    base_ref = base_image or project.base or ensure_base(docker, project.engine, architecture, log)
    base.require(docker, base_ref, project.engine, architecture)
    mxnet_base = None
    if project.converts and project.engine == "onnxruntime":  # the export runs on the MXNet base
        mxnet_base = ensure_base(docker, "mxnet", architecture, log)
        base.require(docker, mxnet_base, "mxnet", architecture)
    image = tag or f"{project.image_repo}:latest"
    clean_leftovers(docker, project)
    # the pid in the tag tells the next build whether the build that made it is still running
    candidate = f"{project.image_repo}:building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    before = (docker.image(image) or {}).get("Id")
    try:
        return _build(docker, project, image, candidate, base_ref, mxnet_base, run_check, log, start)
    except KeyboardInterrupt:
        _discard(docker, project, candidate)
        sweep(docker, project)
        now = (docker.image(image) or {}).get("Id")
        if now and now != before:  # the interrupt came as the build was tagging its image
            docker.remove_if_untagged(before)
            raise LitError(
                f"interrupted as the build finished: {image} is the new image ({_short(now)})",
                "nothing to do",
                exit_code=130,
            ) from None
        was = f"still {_short(before)}" if before else "not built yet"
        raise LitError(
            f"interrupted: {image} is unchanged ({was}); the half-built image was removed",
            "run `lit build` again (the layers already built are reused)",
            exit_code=130,
        ) from None


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _discard(docker: Docker, project: Project, candidate: str, attempts: int = 20) -> None:
    """Remove an interrupted build's candidate image. The image check's container outlives its
    killed docker CLI and holds the candidate, and the engine may still be creating it when the
    interrupt lands: remove the check containers, then the tag, again until the tag is gone."""
    for _ in range(attempts):
        for c in docker.containers(f"{CHECK_LABEL}={project.name}"):
            docker.remove_container(c.id)
        docker.remove_image(candidate)
        if docker.image(candidate) is None:
            return
        time.sleep(0.25)


def sweep(docker: Docker, project: Project, older_than: float = 0.0) -> list[str]:
    """Remove this function's untagged images (created over `older_than` seconds ago): what an
    interrupted build's engine committed as its client went, before it could tag it. An image
    still in use (a container runs it, or a tag of it was just made) stays."""
    removed = []
    now = time.time()
    for image_id in docker.dangling(f"{IMAGE_LABEL}={project.name}"):
        created = (docker.image(image_id) or {}).get("Created", "")[:19]
        if created and now - calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%S")) >= older_than:
            docker.remove_image(image_id)
            removed.append(image_id)
    return removed


def clean_leftovers(docker: Docker, project: Project) -> list[str]:
    """What killed builds of this project left: candidate tags whose build is gone, untagged images
    of the function, and image check containers that never ran or never were removed."""
    removed = sweep(docker, project, older_than=60)  # younger ones may be a build's, just before its tag
    for ref in docker.references(f"{project.image_repo}:building-*"):
        pid = ref.rsplit(":building-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue  # a build running now, in another process
        docker.remove_image(ref)
        removed.append(ref)
    for c in docker.containers(f"{CHECK_LABEL}={project.name}"):
        info = docker.inspect_container(c.id) or {}
        if not info.get("State", {}).get("Running"):
            docker.remove_container(c.id)
            removed.append(c.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _build(
    docker: Docker,
    project: Project,
    image: str,
    candidate: str,
    base_ref: str,
    mxnet_base: str | None,
    run_check: bool,
    log: Callable[[str], None],
    start: float,
) -> BuildResult:
    bundle = base.find_ca_bundle(None) if needs_pip(project) else None
    seen: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lit-build-") as tmp:
        assemble(project, Path(tmp), base_ref, bundle, mxnet_base)
        try:
            with progress.BuildSteps(log, f"building {image}", docker.size) as steps:

                def keep(line: str) -> None:
                    seen.append(line)
                    steps(line)

                image_id = docker.build(
                    Path(tmp), candidate, log=keep, platform=arch.PLATFORMS[project.function.architecture]
                )
        except Stopped:
            raise
        except EngineError:
            raise _explain(project, seen) from None
        finally:
            architecture = project.function.architecture
            docker.prune_stages(
                (f"lit.stage={cache.FUNCTION}", f"lit.project={project.name}"),
                seen,
                name=lambda stage: cache.function_tag(project.name, stage, architecture),
            )
    replaced = (docker.image(image) or {}).get("Id")
    decisions: list[str] = []
    try:
        if run_check:
            log("checking the image: runtime init, model load, warm-up")
            decisions = check(docker, candidate, project)
        docker.tag(candidate, image)
    finally:
        docker.remove_image(candidate)
    if replaced != image_id:
        docker.remove_if_untagged(replaced)
    info = docker.image(image) or {}
    layers = [{"size": int(h["Size"]), "created_by": h["CreatedBy"][:160]} for h in docker.history(image)]
    return BuildResult(
        image, image_id, base_ref, int(info.get("Size", 0)), round(time.monotonic() - start, 1), layers, decisions
    )
