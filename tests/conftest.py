"""Shared fixtures: isolation from the developer's machine, recorded events, the digits model."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"
FIXTURES = Path(__file__).parent / "fixtures"
DIGITS = ROOT / "images" / "digits"
# PyTorch and its ONNX exporters live in their own environment (scripts/setup.sh makes it)
EXPORT_PYTHON = Path(os.environ.get("LIT_EXPORT_VENV", ROOT / ".venv-export")) / "bin" / "python"

# The Ctrl-C tests send SIGINT to the `lit` processes they start. A suite launched in the
# background by a shell without job control inherits SIGINT ignored, and so would every child
# (an ignored signal stays ignored across exec): take the default back, so children get it too.
signal.signal(signal.SIGINT, signal.default_int_handler)


if os.environ.get("CI"):
    # CI installs every dependency: a test file that `importorskip` would skip for a missing one
    # fails there instead (an error at collection), so that a skip never hides a broken install.
    _importorskip = pytest.importorskip

    def _required(modname: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return _importorskip(modname, *args, **kwargs)
        except pytest.skip.Exception as exc:
            raise ImportError(f"CI needs {modname}: {exc}") from None

    pytest.importorskip = _required  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def no_local_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's AWS credentials or config. (The RIE's download cache,
    ~/.cache/lit, is shared on purpose: the e2e tier's base builds reuse what set-up fetched.)"""
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # A safety net: any AWS call a test makes without the stand-in (the `aws` fixture) goes to a
    # closed port on 127.0.0.1, never to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


def load_event(name: str, image: bytes | None = None, **fields: str) -> dict:
    """A recorded Lambda event from tests/events/, with __IMAGE_B64__ (and __DOC_B64__, the
    JSON document {"image": ...} in base64, as Kinesis carries it) and __FIELD__s filled in."""
    import base64

    text = (EVENTS / f"{name}.json").read_text()
    if image is not None:
        b64 = base64.b64encode(image).decode()
        text = text.replace("__IMAGE_B64__", b64)
        text = text.replace("__DOC_B64__", base64.b64encode(json.dumps({"image": b64}).encode()).decode())
    for key, value in fields.items():
        text = text.replace(f"__{key.upper()}__", value)
    return json.loads(text)


def batch_event(name: str, images: list[bytes]) -> dict:
    """A batch event of one record per image, from the recorded one-record event, with unique ids."""
    import copy

    template = load_event(name, images[0])["Records"][0]
    records = []
    for i, image in enumerate(images):
        record = copy.deepcopy(load_event(name, image)["Records"][0]) if i else copy.deepcopy(template)
        for path in (
            ("messageId",),
            ("kinesis", "sequenceNumber"),
            ("dynamodb", "SequenceNumber"),
            ("Sns", "MessageId"),
        ):
            holder = record
            for key in path[:-1]:
                holder = holder.get(key, {})
            if path[-1] in holder:
                holder[path[-1]] = f"{holder[path[-1]]}-{i}"
        records.append(record)
    return {"Records": records}


@pytest.fixture(scope="session")
def digits_model() -> Path:
    """The digits project with a trained model (trained here, on scikit-learn's real digits)."""
    if not (DIGITS / "model" / "digits-0000.params").is_file() or not (DIGITS / "heldout" / "labels.json").is_file():
        subprocess.run([sys.executable, str(DIGITS / "train.py")], check=True, capture_output=True)
    return DIGITS


@pytest.fixture()
def digits_copy(digits_model: Path, tmp_path: Path) -> Path:
    """A private copy of the digits project, to edit freely."""
    dest = tmp_path / "digits"
    shutil.copytree(digits_model, dest, ignore=shutil.ignore_patterns("__pycache__", ".lit"))
    return dest


@pytest.fixture()
def digits_stub(tmp_path: Path) -> Path:
    """The digits project's config and labels with placeholder model files: what the unit tier reads
    (no trained model, no MXNet)."""
    dest = tmp_path / "digits"
    (dest / "model").mkdir(parents=True)
    for name in ("lit.toml", "labels.txt"):
        shutil.copy(DIGITS / name, dest / name)
    (dest / "model" / "digits-symbol.json").write_text("{}")
    (dest / "model" / "digits-0000.params").write_bytes(b"placeholder")
    return dest


def image_config(root: Path) -> Path:
    """The configuration `lit build` writes into the image (lit.json), written for the project at
    root into its .lit directory: what the runtime reads when a test starts it in-process."""
    from lit import project, runtime_config

    return runtime_config.write(project.load(root), root / ".lit" / runtime_config.FILE)


def start_app(root: Path) -> Any:
    """The runtime in-process on a project, started as in its image (no MXNet import before this)."""
    from lit_runtime.app import App

    return App.start(root, image_config(root))


def heldout(root: Path) -> list[tuple[Path, int]]:
    labels = json.loads((root / "heldout" / "labels.json").read_text())["labels"]
    return [(root / "heldout" / name, label) for name, label in sorted(labels.items())]


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def standin(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The Lambda stand-in (tests/fixtures/standin.py): moto's real HTTP server on 127.0.0.1 (S3, ECR,
    Lambda, IAM, STS, CloudWatch Logs) that also runs image functions on the Docker engine. Stopped by
    pid at the end; any container it started is removed by its label."""
    import time
    import urllib.request
    import uuid

    pytest.importorskip("moto")
    port = free_port()
    label = uuid.uuid4().hex[:12]
    log = (log_dir / "standin.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.standin", "--port", str(port), "--label", label],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/_standin/calls", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"the Lambda stand-in did not start: see {log.name}") from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if shutil.which("docker"):
            left = subprocess.run(
                ["docker", "ps", "-aq", "-f", f"label=lit-standin={label}"], capture_output=True, text=True
            ).stdout.split()
            if left:
                subprocess.run(["docker", "rm", "-f", *left], capture_output=True)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standin(tmp_path_factory.mktemp("standin")) as url:
        yield url


@pytest.fixture(scope="session")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A second stand-in that checks every request's credentials and signature, as AWS does (moto's
    IAM authorization): its first three calls make user `lit` with an allow-all policy and an access
    key, which it returns (url, key id, secret)."""
    import boto3

    with standin(tmp_path_factory.mktemp("standin-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as url:
        iam = boto3.client(
            "iam", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x"
        )
        iam.create_user(UserName="lit")
        allow = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
        iam.put_user_policy(UserName="lit", PolicyName="all", PolicyDocument=allow)
        key = iam.create_access_key(UserName="lit")["AccessKey"]
        yield {"url": url, "key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@pytest.fixture()
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 and the runtime's S3 client at moto server; returns its URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def lit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def interrupt_at(args: list[str], delay: float, ignored: bool = False) -> tuple[int | None, str]:
    """`lit ARGS` in its own process group, sent SIGINT as a terminal's Ctrl-C is (to the whole group,
    docker children included) `delay` seconds after it starts: (exit code, stderr); the code is None
    when lit had ended before the moment came. With `ignored`, lit starts with SIGINT ignored, as a
    script's background job does."""
    import time

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "lit", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ignore if ignored else None,
    )
    time.sleep(delay)
    ended = proc.poll() is not None
    if not ended:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    return None if ended else proc.returncode, err


def spread(duration: float, count: int = 10) -> list[float]:
    """`count` moments to interrupt a command that takes `duration` s: from 0.05 s, three in its first
    0.2 s (start-up), the rest evenly to 90% of it."""
    early = [0.05, 0.1, 0.2]
    end = max(0.9 * duration, 0.4)
    rest = count - len(early)
    return early + [round(0.3 + (end - 0.3) * i / max(rest - 1, 1), 2) for i in range(rest)]


def assert_clean_failure(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "fix:" in proc.stderr


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def torch_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models exported by PyTorch's default ONNX exporter, with PyTorch's own answers beside them
    (tests/fixtures/torch_models.py, run once a session in the export environment)."""
    if not EXPORT_PYTHON.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the export environment {EXPORT_PYTHON} (scripts/setup.sh makes it)")
        pytest.skip(f"no export environment at {EXPORT_PYTHON}")
    out = tmp_path_factory.mktemp("torch-models")
    proc = subprocess.run(
        [str(EXPORT_PYTHON), str(FIXTURES / "torch_models.py"), str(out)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def torch_project(models: Path, name: str, dest: Path, toml: str) -> Path:
    """A project serving one of torch_models' exports: its files under model/ and the given lit.toml."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(models / name, dest / "model", ignore=shutil.ignore_patterns("reference.npz"))
    (dest / "lit.toml").write_text(toml)
    return dest


SAGEMAKER_EXAMPLE = ROOT / "images" / "sagemaker-digits"


@pytest.fixture(scope="session")
def sagemaker_artifact(digits_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SageMaker model.tar.gz of the digits CNN (images/sagemaker-digits: digits.onnx exported from
    the trained MXNet checkpoint, labels.txt, code/inference.py on onnxruntime)."""
    pytest.importorskip("mxnet")
    pytest.importorskip("onnx")
    out = tmp_path_factory.mktemp("sagemaker") / "model.tar.gz"
    proc = subprocess.run(
        [sys.executable, str(SAGEMAKER_EXAMPLE / "make_artifact.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def sagemaker_reference(model_dir: Path, requests: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What SageMaker's own toolkit answers, in process (lit/sagemaker_reference.py):
    per request, status, content_type and body (bytes)."""
    import base64
    import tempfile

    pytest.importorskip("sagemaker_inference")
    pytest.importorskip("mms")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(requests, f)
        f.flush()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "lit" / "sagemaker_reference.py"), str(model_dir), f.name],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = json.loads(proc.stdout)
    for answer in answers:
        answer["body"] = base64.b64decode(answer.pop("body_b64"))
    return answers
