"""The reader of Model Server archives (`.mar`) for `lit init --from` (see archive.py).

An MXNet Model Server / Multi Model Server archive (made by `model-archiver`) and a TorchServe one
(made by `torch-model-archiver`) are both a zip with MAR-INF/MANIFEST.json, the model files, the
handler module and whatever it imports, side by side. The servers unpack it into one directory, put
that directory on the import path and hand it to the handler as `model_dir`; the image does the
same with the project's model directory (lit_runtime.adapters.mms / .torchserve).

What the handler relies on that Lambda lacks is found by reading the code (ast, nothing is
imported or run here): a GPU, writing beside the model (Lambda's task root is read-only), the
server's batch size, PyTorch.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import MANIFEST, Found
from .errors import ConfigError

RUNTIMES = ("python", "python3")
MXNET_WEIGHTS = re.compile(r"(.+)-(\d{4})\.params")
PYTORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ts", ".pt2", ".so", ".ckpt", ".safetensors")
TORCH = ("torch", "torchvision", "torchaudio", "torchtext", "torchdata")
# TorchServe's built-in handlers (ts.torch_handler.NAME): all of them run PyTorch.
TS_BUILTINS = (
    *("base_handler", "image_classifier", "image_segmenter", "object_detector", "text_classifier"),
    *("vision_handler", "text_handler", "dense_neural_network", "unified_handler"),
)
# What each engine's base image already has (runtime/image/requirements-ENGINE.txt and their dependencies).
BASE_MODULES = {
    "mxnet": {"mxnet", "numpy", "cv2", "requests", "graphviz", "urllib3", "idna", "certifi", "charset_normalizer"},
    "onnxruntime": {"onnxruntime", "numpy", "PIL", "flatbuffers", "packaging", "protobuf", "google", "coloredlogs"},
}
COMMON_MODULES = {"awslambdaric", "tokenizers", "snapshot_restore_py", "lit_runtime", "ts", "mms", "simplejson"}
PIP_NAMES = {
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "google.protobuf": "protobuf",
    "dateutil": "python-dateutil",
    "onnxruntime": "onnxruntime",
}


def read(unpacked: Path, project_root: Path) -> Found:
    """What the unpacked archive holds: its server, handler, model, labels and needs."""
    manifest = _manifest(unpacked)
    kind = _kind(manifest, unpacked)
    model: dict[str, Any] = manifest["model"]
    runtime = manifest.get("runtime", "python")
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"{unpacked / MANIFEST}: runtime {runtime!r} is not one LIT runs (it runs Python 3 handlers: "
            f"{', '.join(RUNTIMES)})",
            'port the handler to Python 3 and pack the archive again with --runtime python3 (or set "runtime": '
            '"python3" in MAR-INF/MANIFEST.json)',
        )
    module, attr = _handler(model, kind, unpacked)
    code = _code(unpacked)
    imports = dict(_imports(code))
    model_format, engine, facts = _model(model, kind, unpacked, imports)
    found = Found(
        kind=kind,
        handler=module + (f":{attr}" if attr else ""),
        model_dir=unpacked,
        model_format=model_format,
        engine=engine,
        labels=_labels(unpacked, project_root, facts),
        facts={"modelName": model.get("modelName"), **facts},
    )
    found.requirements = _requirements(unpacked, model, imports, code, engine, found.notes)
    _scan(code, unpacked, kind, found, _batch_size(unpacked, model, found.facts))
    found.facts = {k: v for k, v in found.facts.items() if v is not None}
    return found


def _manifest(unpacked: Path) -> dict[str, Any]:
    path = unpacked / MANIFEST
    if not path.is_file():
        raise ConfigError(
            f"the archive has no {MANIFEST}, so it is not a Model Server archive",
            "pack the model with model-archiver (MMS) or torch-model-archiver (TorchServe), which write it",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"the archive's {MANIFEST} is not valid JSON ({exc})",
            "pack the archive again with model-archiver or torch-model-archiver (or repair the manifest)",
        ) from None
    model = manifest.get("model") if isinstance(manifest, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("handler"), str) or not model["handler"]:
        raise ConfigError(
            f'the archive\'s {MANIFEST} has no "model": {{"handler": ...}}, so nothing names the code to run',
            "pack the archive again with --handler MODULE[:FUNCTION] (model-archiver or torch-model-archiver)",
        )
    return dict(manifest)


def _kind(manifest: dict[str, Any], unpacked: Path) -> str:
    """mms or torchserve, from what each archiver writes: TorchServe's archiverVersion (and a
    model's serializedFile / modelVersion), MMS's modelServerVersion / specificationVersion."""
    model = manifest["model"]
    if "archiverVersion" in manifest or "serializedFile" in model or "modelVersion" in model:
        return "torchserve"
    if "modelServerVersion" in manifest or "specificationVersion" in manifest or "engine" in manifest:
        return "mms"
    raise ConfigError(
        f"the archive's {MANIFEST} is of no format LIT knows: neither Multi Model Server's (modelServerVersion) "
        "nor TorchServe's (archiverVersion)",
        "pack the model with model-archiver (MMS) or torch-model-archiver (TorchServe)",
    )


def _handler(model: dict[str, Any], kind: str, unpacked: Path) -> tuple[str, str | None]:
    """(module, function or class) as the server's loader reads the manifest's handler: a trailing
    .py and any folders dropped (the archive's root is on the import path)."""
    spec = str(model["handler"])
    name, _, attr = spec.partition(":")
    if name.endswith(".py"):
        name = name[:-3]
    name = name.replace("\\", "/").split("/")[-1]
    if not re.fullmatch(r"[A-Za-z_]\w*", name) or (attr and not re.fullmatch(r"[A-Za-z_]\w*", attr)):
        raise ConfigError(
            f"the archive's handler {spec!r} is not MODULE or MODULE:FUNCTION",
            "pack the archive again with --handler naming a module of the archive",
        )
    if (unpacked / f"{name}.py").is_file() or (unpacked / name / "__init__.py").is_file():
        return name, attr or None
    if kind == "torchserve" and name in TS_BUILTINS:
        raise ConfigError(
            f"the archive uses TorchServe's built-in handler {name!r}, which runs PyTorch, and a LIT image has no PyTorch",
            "export the model to ONNX (torch.onnx.export), write a handler that subclasses "
            "ts.torch_handler.base_handler.BaseHandler for it (its self.model is an onnxruntime session), and pack "
            "the archive again with --serialized-file MODEL.onnx --handler YOUR_HANDLER.py",
        )
    raise ConfigError(
        f"the archive's handler module {name!r} (manifest handler {spec!r}) is not in the archive",
        f"pack the archive again with the handler's file ({name}.py) in it: --handler {name}.py, or add it "
        "with --extra-files",
    )


@dataclass
class Source:
    path: Path  # inside the archive
    tree: ast.Module


def _code(unpacked: Path) -> list[Source]:
    """Every Python file of the archive, parsed (files that do not parse are named)."""
    sources = []
    for path in sorted(unpacked.rglob("*.py")):
        if "MAR-INF" in path.relative_to(unpacked).parts:
            continue
        try:
            sources.append(Source(path, ast.parse(path.read_bytes(), filename=str(path))))
        except (SyntaxError, ValueError) as exc:
            raise ConfigError(
                f"{path.relative_to(unpacked)} in the archive is not valid Python 3: {exc}",
                "port it to Python 3 (LIT's images run Python 3.11) and pack the archive again",
            ) from None
    return sources


def _imports(code: list[Source]) -> Iterator[tuple[str, tuple[Path, int]]]:
    """Each absolute import's top module (and `a.b` for the two-level names PIP_NAMES knows), with
    where it first appears."""
    for src in code:
        for node in ast.walk(src.tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                yield name.split(".")[0], (src.path, getattr(node, "lineno", 0))


def _model(
    model: dict[str, Any], kind: str, unpacked: Path, imports: dict[str, tuple[Path, int]]
) -> tuple[str, str, dict[str, Any]]:
    """(format, engine, facts): the model files LIT can serve, and the engine whose base the
    handler's code runs on (MXNet's when it imports mxnet, else ONNX Runtime's)."""
    facts: dict[str, Any] = {}
    if kind == "torchserve":
        if model.get("modelFile"):
            raise ConfigError(
                f"the archive's model is eager PyTorch ({model['modelFile']} with {model.get('serializedFile')}), "
                "which needs PyTorch, and a LIT image has no PyTorch",
                "export the model to ONNX (torch.onnx.export) and pack the archive again with "
                "--serialized-file MODEL.onnx and no --model-file",
            )
        serialized = str(model.get("serializedFile") or "")
        facts["serializedFile"] = serialized or None
        facts["modelVersion"] = model.get("modelVersion")
        if serialized.endswith(PYTORCH_SUFFIXES) or not serialized.endswith(".onnx"):
            what = "TorchScript or PyTorch weights" if serialized.endswith(PYTORCH_SUFFIXES) else "not an ONNX model"
            raise ConfigError(
                f"the archive's serialized file {serialized!r} is {what}; LIT serves ONNX (on ONNX Runtime) "
                "and MXNet models, and a LIT image has no PyTorch",
                "export the model to ONNX (torch.onnx.export(model, example, 'model.onnx')) and pack the archive "
                "again with --serialized-file model.onnx",
            )
        if not (unpacked / serialized).is_file():
            raise ConfigError(
                f"the archive's serialized file {serialized!r} is not in the archive",
                "pack the archive again with --serialized-file pointing at the .onnx file",
            )
        return "onnx", "mxnet" if "mxnet" in imports else "onnxruntime", facts
    symbols = sorted(unpacked.glob("*-symbol.json"))
    params = [p for p in sorted(unpacked.glob("*.params")) if MXNET_WEIGHTS.fullmatch(p.name)]
    onnx = sorted(unpacked.glob("*.onnx"))
    signature = unpacked / "signature.json"
    if signature.is_file():
        try:
            inputs = json.loads(signature.read_text()).get("inputs", [])
            facts["signature inputs"] = ", ".join(f"{i['data_name']} {i['data_shape']}" for i in inputs) or None
        except (ValueError, AttributeError, KeyError, TypeError):
            facts["signature inputs"] = "unreadable"
    if symbols and params:
        facts["checkpoint"] = f"{symbols[0].name} + {', '.join(p.name for p in params)}"
        return "mxnet", "mxnet", facts
    if len(onnx) == 1:
        return "onnx", "mxnet" if "mxnet" in imports else "onnxruntime", facts
    pytorch = [p.name for p in sorted(unpacked.iterdir()) if p.suffix in PYTORCH_SUFFIXES]
    if pytorch:
        raise ConfigError(
            f"the archive's model ({', '.join(pytorch)}) is PyTorch, and a LIT image has no PyTorch",
            "export the model to ONNX (torch.onnx.export) and pack the .onnx in the archive instead",
        )
    files = ", ".join(p.name for p in sorted(unpacked.iterdir()) if p.is_file()) or "nothing"
    raise ConfigError(
        f"the archive holds no model LIT can serve (an MXNet NAME-symbol.json with NAME-NNNN.params, or one .onnx); "
        f"it has {files}",
        "pack the model's files in the archive (--model-path DIR with the checkpoint or the .onnx)",
    )


def _labels(unpacked: Path, root: Path, facts: dict[str, Any]) -> Path | None:
    """synset.txt as it is (one label a line), or TorchServe's index_to_name.json written out as
    ROOT/labels.txt when its keys are 0..N-1."""
    synset = unpacked / "synset.txt"
    if synset.is_file():
        return synset
    mapping = unpacked / "index_to_name.json"
    if not mapping.is_file():
        return None
    try:
        doc = json.loads(mapping.read_text())
        if isinstance(doc, dict) and isinstance(doc.get("object_type_names"), list):
            doc = dict(enumerate(doc["object_type_names"]))
        labels = {int(k): (v[-1] if isinstance(v, list) else v) for k, v in doc.items()}
    except (ValueError, AttributeError, TypeError, IndexError):
        facts["index_to_name.json"] = "unreadable: no labels.txt made"
        return None
    if sorted(labels) != list(range(len(labels))) or not all(isinstance(v, str) for v in labels.values()):
        facts["index_to_name.json"] = "not indices 0..N-1 with names: no labels.txt made"
        return None
    out = root / "labels.txt"
    out.write_text("".join(f"{labels[i]}\n" for i in range(len(labels))))
    return out


def _requirements(
    unpacked: Path,
    model: dict[str, Any],
    imports: dict[str, tuple[Path, int]],
    code: list[Source],
    engine: str,
    notes: list[str],
) -> list[str]:
    """pip lines the handler needs beyond the base: the archive's own requirements file (without
    PyTorch), then what its code imports that is neither local, standard nor in the base."""
    lines: list[str] = []
    req_name = model.get("requirementsFile")
    req = unpacked / str(req_name) if req_name else unpacked / "requirements.txt"
    if req.is_file():
        for raw in req.read_text().splitlines():
            line = raw.split("#")[0].strip()
            if not line:
                continue
            dist = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]
            if dist.lower() in (*TORCH, "torchserve", "torch-model-archiver", "mxnet", "mxnet-mkl", "numpy"):
                notes.append(
                    f"{req.relative_to(unpacked)}: {line!r} is left out: the image's base provides numpy and the "
                    "engine, and LIT runs no PyTorch"
                )
                continue
            lines.append(line)
    local = {p.path.stem for p in code} | {p.name for p in unpacked.iterdir() if p.is_dir()}
    have = BASE_MODULES[engine] | COMMON_MODULES | set(sys.stdlib_module_names) | local
    listed = {re.split(r"[<>=!~\[; ]", x, maxsplit=1)[0].lower().replace("_", "-") for x in lines}
    for module, (path, lineno) in sorted(imports.items()):
        if module in have or module in TORCH:
            continue
        dist = PIP_NAMES.get(module, module)
        if dist.lower().replace("_", "-") in listed:
            continue
        lines.append(dist)
        listed.add(dist.lower())
        guess = "" if module in PIP_NAMES else " (the package's name guessed from the module's: check it)"
        notes.append(
            f"{path.relative_to(unpacked)}:{lineno} imports {module}, which the {engine} base image lacks: "
            f"requirements.txt installs {dist}{guess}"
        )
    return lines


def _batch_size(unpacked: Path, model: dict[str, Any], facts: dict[str, Any]) -> int:
    """The batch size the adapter reports: TorchServe's model-config.yaml batchSize, else 1."""
    config = model.get("configFile")
    if not config or not (unpacked / str(config)).is_file():
        return 1
    m = re.search(r"^batchSize\s*:\s*(\d+)", (unpacked / str(config)).read_text(), re.M)
    size = int(m.group(1)) if m else 1
    facts["configFile"] = f"{config} (batchSize {size})"
    return max(size, 1)


def _mentions(node: ast.AST, word: str) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and word in sub.id.lower():
            return True
        if isinstance(sub, ast.Attribute) and word in sub.attr.lower():
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and word in sub.value.lower():
            return True
    return False


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


WRITERS = {"makedirs", "mkdir", "copy", "copyfile", "copy2", "copytree", "move", "rename", "replace", "save"}
WRITERS |= {"savez", "savez_compressed", "write_text", "write_bytes", "extractall", "extract", "to_csv", "dump"}


def _writes_model_dir(node: ast.Call) -> bool:
    """open(<model_dir ...>, "w"), os.makedirs(<model_dir ...>), <model_dir path>.write_text(...), ..."""
    name = _call_name(node)
    if name == "open":
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        writes = isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(set(mode.value) & set("wax+"))
        return writes and bool(node.args) and _mentions(node.args[0], "model_dir")
    if name not in WRITERS:
        return False
    targets: list[ast.AST] = list(node.args[1:2]) if name in {"copy", "copyfile", "copy2", "copytree", "move"} else []
    if name not in {"copy", "copyfile", "copy2", "copytree", "move"}:
        targets = [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("path", "file", "fname"))]
    if isinstance(node.func, ast.Attribute) and name in {"mkdir", "write_text", "write_bytes", "extractall", "save"}:
        targets.append(node.func.value)
    return any(_mentions(t, "model_dir") for t in targets)


def _scan(code: list[Source], unpacked: Path, kind: str, found: Found, batch_size: int) -> None:
    """Notes on what the handler relies on that Lambda lacks, each with its file:line."""
    hits: dict[str, list[str]] = {"gpu": [], "writes": [], "batch": [], "torch": []}
    for src in code:
        rel = src.path.relative_to(unpacked).as_posix()
        for node in ast.walk(src.tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and node.value in ("gpu_id", "batch_size"):
                hits["gpu" if node.value == "gpu_id" else "batch"].append(where)
            elif isinstance(node, ast.Call):
                name = _call_name(node)
                if name in ("gpu", "cuda") or (name == "device" and _mentions(node, "cuda")):
                    hits["gpu"].append(where)
                elif _writes_model_dir(node):
                    hits["writes"].append(where)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level:
                    continue
                if any(n.split(".")[0] in TORCH for n in names):
                    hits["torch"].append(where)
    if hits["gpu"]:
        found.notes.append(
            f"{_lines(hits['gpu'])}: the handler asks for a GPU (gpu_id, mx.gpu, cuda); Lambda has none, and LIT "
            "passes gpu_id = None, as the server does on a CPU host, so it runs on the CPU"
        )
    if hits["writes"]:
        found.writable_model = True
        found.notes.append(
            f"{_lines(hits['writes'])}: the handler writes into its model directory, and Lambda's task root is "
            "read-only: LIT copies the model directory to /tmp at cold start and gives the handler that copy "
            "(writable_model = true; it counts against ephemeral storage)"
        )
    if hits["batch"]:
        found.notes.append(
            f"{_lines(hits['batch'])}: the handler reads the server's batch_size; LIT reports {batch_size} (the "
            f"{'model config' if batch_size > 1 else 'server default'}) and calls the handler with at most "
            f"{batch_size} input(s) at a time: a request with more inputs is answered by several calls, in order "
            "(Lambda has no server-wide batching across requests)"
        )
    if hits["torch"]:
        found.notes.append(
            f"{_lines(hits['torch'])}: the handler imports PyTorch, which a LIT image does not carry: the image's "
            "init will fail there. Export the model to ONNX and use self.model (an onnxruntime session, "
            "which the BaseHandler LIT provides makes for a .onnx) and numpy instead"
        )


def _lines(where: list[str]) -> str:
    """file:line, file:line2, ...: the first few places, and how many more."""
    shown = list(dict.fromkeys(where))
    more = f" (and {len(shown) - 4} more)" if len(shown) > 4 else ""
    return ", ".join(shown[:4]) + more
