"""SageMaker model artifacts (model.tar.gz) for `lit init --from`: what archive.read needs.

A SageMaker artifact is the model's files with `code/inference.py` beside them (and optionally
`code/requirements.txt`), as SageMaker's framework containers and Serverless Inference unpack it
into /opt/ml/model. The handler (model_fn, input_fn, predict_fn, output_fn or transform_fn) runs in
the image through lit_runtime.adapters.sagemaker, as sagemaker-inference runs it.

Everything here reads files and Python source (`ast`): the handler is never imported on the host,
so the CLI needs none of its packages. What the handler relies on that Lambda does not have (a GPU,
writing into its model directory, /opt/ml paths, SAGEMAKER_* variables, the model server's batching)
becomes a note naming file:line and what LIT does instead.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import assets
from .archive import Found
from .errors import ConfigError

HANDLER = "inference"
CODE = "code"
# distribution -> import name, for the base images' requirements files and common requirements
IMPORT_NAMES = {
    "opencv-python-headless": "cv2",
    "opencv-python": "cv2",
    "pillow": "PIL",
    "scikit-learn": "sklearn",
    "scikit-image": "skimage",
    "pyyaml": "yaml",
    "protobuf": "google",
    "python-dateutil": "dateutil",
    "beautifulsoup4": "bs4",
    "sagemaker-inference": "sagemaker_inference",
}
# in every image besides the engine's requirements: the runtime and what the engines bring along
ALWAYS = {"lit_runtime", "awslambdaric", "snapshot_restore_py", "sagemaker_inference", "simplejson"}
ENGINE_EXTRAS = {"onnxruntime": {"flatbuffers", "google", "packaging"}, "mxnet": {"requests", "graphviz"}}
# the toolkit modules lit_runtime.adapters.sagemaker_toolkit stands in for
STAND_IN = set("content_types parameters errors utils environment decoder encoder default_inference_handler".split())
FRAMEWORKS = {  # what a model file's name says it is, for the message when LIT has no engine for it
    ".pth": "a PyTorch model",
    ".pt": "a PyTorch model",
    ".h5": "a Keras model",
    ".keras": "a Keras model",
    ".pb": "a TensorFlow SavedModel",
    ".joblib": "a scikit-learn model",
    ".pkl": "a pickled (scikit-learn?) model",
    ".pickle": "a pickled model",
    ".safetensors": "Hugging Face weights",
    ".bin": "PyTorch/Hugging Face weights",
    ".ubj": "an XGBoost model",
    ".xgb": "an XGBoost model",
    ".tflite": "a TensorFlow Lite model",
}
EXPORT_FIX = (
    "export the model to ONNX (torch.onnx.export, tf2onnx, skl2onnx, onnxmltools) and load it with onnxruntime "
    "in model_fn, or pack an MXNet checkpoint (NAME-symbol.json + NAME-0000.params)"
)
GPU_WORDS = ("cuda", "CUDAExecutionProvider", "TensorrtExecutionProvider")
BATCH_VARS = re.compile(r"SAGEMAKER_(TS_)?(BATCH|MAX_BATCH|MODEL_SERVER_WORKERS)")


@dataclass(frozen=True)
class Source:
    path: Path  # the file
    shown: str  # as messages name it: code/inference.py
    tree: ast.Module


def read(unpacked: Path, project_root: Path) -> Found:
    """What the artifact unpacked at `unpacked` (the project's model directory) holds."""
    code = unpacked / CODE
    handler = code / f"{HANDLER}.py"
    models = [p for p in sorted(unpacked.rglob("*")) if p.is_file() and CODE not in p.relative_to(unpacked).parts]
    fmt = _model_format(unpacked)
    listing = ", ".join(p.relative_to(unpacked).as_posix() for p in models[:8]) or "nothing"
    if not handler.is_file():
        if fmt is not None:
            raise ConfigError(
                f"the SageMaker artifact has no {CODE}/{HANDLER}.py (it holds {listing})",
                f"add {CODE}/{HANDLER}.py with model_fn, input_fn, predict_fn and output_fn, as SageMaker's "
                f"framework containers expect; or serve the model with LIT's own hooks: unpack it and run "
                f"`lit init DIR --from {fmt[2].relative_to(unpacked).as_posix()}`",
            )
        raise ConfigError(
            f"the SageMaker artifact has no {CODE}/{HANDLER}.py and no model LIT recognises (it holds {listing})",
            f"pack the model's files with {CODE}/{HANDLER}.py (model_fn, input_fn, predict_fn, output_fn) at the "
            "archive's top level, as `tar czf model.tar.gz -C DIR .` does",
        )
    sources = [_parse(p, unpacked) for p in sorted(code.rglob("*.py"))]
    main = next(s for s in sources if s.path == handler)
    _check_functions(main)
    requirements, notes = _requirements(code, sources)
    if fmt is None:
        kinds = sorted({FRAMEWORKS[p.suffix.lower()] for p in models if p.suffix.lower() in FRAMEWORKS})
        what = f" ({', '.join(kinds)})" if kinds else ""
        raise ConfigError(
            f"the SageMaker artifact's model is in a format LIT's images do not serve{what}: it holds {listing}",
            EXPORT_FIX + ", at the archive's top level",
        )
    engine = _engine(sources, fmt)
    _check_imports(sources, code, engine, requirements)
    writable = False
    for source in sources:
        found, writes = _lambda_notes(source)
        notes += found
        writable = writable or writes
    labels = next((unpacked / n for n in ("labels.txt", "synset.txt") if (unpacked / n).is_file()), None)
    result = Found("sagemaker", HANDLER, unpacked, fmt[0], engine, code, labels, requirements, writable)
    result.notes, result.facts = notes, {"model files": listing}
    return result


def _model_format(root: Path) -> tuple[str, str, Path] | None:
    """(format, engine, the model's file): one ONNX file or an MXNet checkpoint at the top level,
    where lit.toml's [model] path (the model directory) finds it."""
    files = sorted(p for p in root.iterdir() if p.is_file())
    onnx = [p for p in files if p.suffix == ".onnx"]
    if len(onnx) > 1:
        raise ConfigError(
            f"the SageMaker artifact holds {len(onnx)} ONNX files ({', '.join(p.name for p in onnx)}); "
            "a LIT project's model directory serves one",
            "pack one model per artifact (an ONNX graph can hold several stages)",
        )
    if onnx:
        return "onnx", "onnxruntime", onnx[0]
    for symbol in (p for p in files if p.name.endswith("-symbol.json")):
        stem = symbol.name[: -len("-symbol.json")]
        if any(re.fullmatch(re.escape(stem) + r"-\d{4}\.params", p.name) for p in files):
            return "mxnet", "mxnet", symbol
    return None


def _parse(path: Path, root: Path) -> Source:
    shown = path.relative_to(root).as_posix()
    try:
        tree = ast.parse(path.read_bytes(), filename=shown)
    except SyntaxError as exc:
        raise ConfigError(
            f"{shown}:{exc.lineno} cannot be imported: SyntaxError: {exc.msg}",
            f"fix line {exc.lineno} of {shown} (LIT's images run Python 3.11)",
        ) from None
    except ValueError as exc:  # null bytes
        raise ConfigError(f"{shown} cannot be imported: {exc}", f"replace {shown} with the handler's source") from None
    return Source(path, shown, tree)


def _defined(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names


def _check_functions(main: Source) -> None:
    defined = _defined(main.tree)
    if "model_fn" not in defined:
        raise ConfigError(
            f"{main.shown} defines no model_fn, and SageMaker's inference toolkit has none to fall back on",
            f"add model_fn(model_dir) to {main.shown}: load the model from the directory's files and return it",
        )
    pipeline = [n for n in ("input_fn", "predict_fn", "output_fn") if n in defined]
    if "transform_fn" in defined and pipeline:
        raise ConfigError(
            f"{main.shown} defines transform_fn and {', '.join(pipeline)}; SageMaker's toolkit refuses the mix",
            "keep transform_fn alone (it decodes, predicts and encodes), or drop it",
        )
    if "transform_fn" not in defined and "predict_fn" not in defined:
        raise ConfigError(
            f"{main.shown} defines neither predict_fn nor transform_fn, so every request would fail",
            f"add predict_fn(data, model) to {main.shown}",
        )


def _requirements(code: Path, sources: list[Source]) -> tuple[list[str], list[str]]:
    """code/requirements.txt's lines; sagemaker-inference dropped when LIT's stand-in covers what
    the handler imports of it."""
    path = code / "requirements.txt"
    if not path.is_file():
        return [], []
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    used = {m for s in sources for m in _toolkit_modules(s.tree)}
    kept, notes = [], []
    for line in lines:
        if _dist(line) == "sagemaker-inference" and used <= STAND_IN:
            notes.append(
                f"{CODE}/requirements.txt: sagemaker-inference is left out: it pulls in scipy and boto3 (about "
                "180 MB); the image's stand-in provides the modules the handler imports "
                f"({', '.join(sorted(used)) or 'none'})"
            )
            continue
        kept.append(line)
    return kept, notes


def _dist(line: str) -> str:
    """A requirement line's distribution name, normalised (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _toolkit_modules(tree: ast.Module) -> set[str]:
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sagemaker_inference":
            parts = node.module.split(".")
            used |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            used |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sagemaker_inference.")}
    return used


def _top_imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Modules imported when the file is imported (module level, not inside a try), with their line."""
    found: list[tuple[str, int]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((a.name.split(".")[0], node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.module.split(".")[0], node.lineno))
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)

    visit(tree.body)
    return found


def _all_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _engine(sources: list[Source], fmt: tuple[str, str, Path]) -> str:
    """The base the handler needs: the engine it imports, else the model's."""
    imported = set().union(*(_all_imports(s.tree) for s in sources))
    if "mxnet" in imported:
        return "mxnet"
    if "onnxruntime" in imported:
        return "onnxruntime"
    return fmt[1]


def base_modules(engine: str) -> set[str]:
    """The top-level modules an engine's base image provides."""
    names = set(ALWAYS) | ENGINE_EXTRAS.get(engine, set())
    for name in (f"requirements-{engine}.txt", "requirements-nodeps.txt"):
        for line in assets.path(f"runtime/image/{name}").read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                dist = _dist(line)
                names.add(IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


def _check_imports(sources: list[Source], code: Path, engine: str, requirements: list[str]) -> None:
    """Each module the handler imports at import time is in the standard library, the base image, the
    code directory or the requirements: otherwise the image's init fails, so say so now."""
    have = base_modules(engine) | set(sys.stdlib_module_names)
    have |= {p.stem for p in code.glob("*.py")} | {p.name for p in code.iterdir() if p.is_dir()}
    for requirement in requirements:
        dist = _dist(requirement)
        have |= {dist, dist.replace("-", "_"), IMPORT_NAMES.get(dist, dist)}
    for source in sources:
        for module, line in _top_imports(source.tree):
            if module in have:
                continue
            hint = ""
            if module in ("torch", "tensorflow", "keras", "jax"):
                hint = f"; {module} is not in LIT's images (and far over what a fast cold start allows): {EXPORT_FIX}"
            raise ConfigError(
                f"{source.shown}:{line} cannot be imported in the image: it imports {module}, which is not in "
                f"the {engine} base image nor in {CODE}/requirements.txt",
                f"add the package that provides {module!r} to {CODE}/requirements.txt (lit build installs it), "
                f"or drop the import{hint}",
            )


def _names(node: ast.AST) -> set[str]:
    """The names and string constants inside an expression."""
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.add(sub.value)
    return out


def _model_dir_names(tree: ast.Module) -> set[str]:
    """model_fn's first parameter (model_dir, whatever it is called) and names assigned from it."""
    names = {"model_dir"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in ("model_fn", "pre_model_fn", "model_warmup_fn"):
            if node.args.args:
                names.add(node.args.args[0].arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _names(node.value) & names:
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _refers_to_model_dir(node: ast.AST, names: set[str]) -> bool:
    found = _names(node)
    return bool(found & names) or any(s.startswith("/opt/ml/model") for s in found)


WRITE_CALLS = {"makedirs", "mkdir", "copy", "copy2", "copyfile", "copytree", "move", "rename", "extractall", "save"}


def _lambda_notes(source: Source) -> tuple[list[str], bool]:
    """What the file relies on that Lambda lacks, as notes (file:line: what, and what LIT does), and
    whether it writes into its model directory."""
    notes: list[str] = []
    writes = False
    model_dir = _model_dir_names(source.tree)
    seen: set[tuple[int, str]] = set()
    for node in ast.walk(source.tree):
        found: list[tuple[str, str]] = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found = _string_notes(node.value)
        elif isinstance(node, ast.Attribute) and node.attr in ("cuda", "gpu") and not isinstance(node.ctx, ast.Store):
            found = [("gpu", f"uses .{node.attr}; Lambda has no GPU: the function runs on CPU")]
        elif isinstance(node, ast.Call) and _writes_model_dir(node, model_dir):
            writes = True
            found = [("write", _WRITES)]
        line = getattr(node, "lineno", 0)
        for key, text in found:
            if (line, key) not in seen:
                seen.add((line, key))
                notes.append(f"{source.shown}:{line}: {text}")
    return notes, writes


def _string_notes(value: str) -> list[tuple[str, str]]:
    """Notes on a string constant: a GPU device, an /opt/ml path, a SAGEMAKER_* variable."""
    out = []
    if any(w.lower() in value.lower() for w in GPU_WORDS) and len(value) < 40:
        out.append(("gpu", f"asks for the GPU ({value!r}); Lambda has no GPU: the function runs on CPU"))
    if value.startswith("/opt/ml"):
        out.append(
            (
                "opt",
                f"uses the path {value!r}; Lambda has no /opt/ml: use the model_dir that model_fn receives "
                "(LIT passes the model's directory in the image)",
            )
        )
    if BATCH_VARS.fullmatch(value.split("=")[0]) or value in ("batch_size", "max_batch_delay"):
        out.append(
            (
                "batch",
                f"reads the model server's batching setting {value!r}; Lambda runs one request per "
                "environment: LIT calls the handler once per body, and scales with concurrency instead",
            )
        )
    elif value == "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT":
        out.append(
            (
                "env",
                f"reads {value}; the adapter honours it too (the answer type when a request accepts */*): "
                "set it in lit.toml's [function] environment",
            )
        )
    elif value.startswith("SAGEMAKER_"):
        out.append(
            (
                "env",
                f"reads {value}, which Lambda does not set; set it in lit.toml's [function] environment "
                "if the handler needs it",
            )
        )
    return out


def _writes_model_dir(node: ast.Call, model_dir: set[str]) -> bool:
    """open(model_dir/..., "w"), os.makedirs(model_dir/...), shutil.copy(x, model_dir), ..."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    args = [*node.args, *(k.value for k in node.keywords)]
    if name == "open":
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        writing = isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(set(mode.value) & set("wax+"))
        return writing and bool(args) and _refers_to_model_dir(args[0], model_dir)
    if name in WRITE_CALLS:
        targets = args if name in ("makedirs", "mkdir", "extractall", "save") else args[1:]
        return any(_refers_to_model_dir(a, model_dir) for a in targets)
    return False


_WRITES = (
    "writes into its model directory; Lambda's /var/task is read-only: LIT gives the handler a writable copy "
    "in /tmp (writable_model = true), made at each cold start"
)
