"""The model bucket: `lit model push` to S3 (moto server), fetched and verified at cold start."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.conftest import heldout, load_event, start_app

pytestmark = pytest.mark.functional
pytest.importorskip("mxnet")

from lit_runtime.errors import ModelError  # noqa: E402


def push(model_dir: Path, url: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "lit", "model", "push", str(model_dir), url, "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def remote_project(root: Path, url: str, sha: str) -> Path:
    shutil.rmtree(root / "model")
    config = root / "lit.toml"
    config.write_text(config.read_text().replace('path = "model"', f'path = "{url}"\nsha256 = "{sha}"'))
    return root


def test_push_fetch_verify_and_cache(
    aws: str, digits_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    pushed = push(digits_copy / "model", f"s3://{bucket}/digits/v1")
    assert set(pushed["files"]) == {"digits-symbol.json", "digits-0000.params"}
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    project = remote_project(digits_copy, pushed["url"], pushed["sha256"])

    app = start_app(project)
    path, label = heldout(project)[0]
    assert int(app.handle(load_event("direct-image", path.read_bytes()))["predictions"][0][0]["label"]) == label
    assert (tmp_path / "cache" / pushed["sha256"] / ".verified").is_file()

    # a second cold start in the same sandbox reads /tmp, not the bucket
    s3.delete_object(Bucket=bucket, Key="digits/v1/digits-0000.params")
    start_app(project)

    # a changed model no longer matches the pinned digest: init fails, saying so
    s3.put_object(Bucket=bucket, Key="digits/v1/lit-manifest.json", Body=b'{"files": {}}')
    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(ModelError, match="model changed since it was pinned"):
        start_app(project)


def test_tampered_file_is_refused(aws: str, digits_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    pushed = push(digits_copy, f"s3://{bucket}/m")  # a project directory works too
    s3.put_object(Bucket=bucket, Key="m/digits-0000.params", Body=b"evil")
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="is 4 bytes, its manifest says 172,740: it changed since it was pushed"):
        start_app(remote_project(digits_copy, pushed["url"], pushed["sha256"]))
    assert not any((tmp_path / "cache").glob("*")), "nothing half-fetched is left to be trusted"


def test_https_model_url(digits_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lit.model import manifest

    served = tmp_path / "www" / "digits"
    shutil.copytree(digits_copy / "model", served)
    body = manifest(served)
    (served / "lit-manifest.json").write_bytes(body)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import hashlib

        monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
        url = f"http://127.0.0.1:{server.server_address[1]}/digits"
        app = start_app(remote_project(digits_copy, url, hashlib.sha256(body).hexdigest()))
        path, label = heldout(digits_copy)[0]
        assert (
            int(
                app.handle({"image": __import__("base64").b64encode(path.read_bytes()).decode()})["predictions"][0][0][
                    "label"
                ]
            )
            == label
        )
    finally:
        server.shutdown()
        thread.join()


def test_push_errors_are_clear(aws: str, digits_copy: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lit", "model", "push", str(digits_copy / "model"), "s3://no-such-bucket-lit/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4 and "NoSuchBucket" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "lit", "model", "push", str(digits_copy / "model"), "gs://x/y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "s3://bucket/prefix" in proc.stderr


def test_remote_model_needs_a_digest(digits_copy: Path) -> None:
    from lit import project
    from lit.errors import ConfigError

    config = digits_copy / "lit.toml"
    config.write_text(config.read_text().replace('path = "model"', 'path = "s3://b/m"'))
    with pytest.raises(ConfigError, match="sha256"):
        project.load(digits_copy)


def test_an_onnx_text_model_and_its_tokenizer_from_the_bucket_on_onnx_runtime(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX needs no conversion on ONNX Runtime, so it may live in a model bucket; the tokenizer
    beside it comes along and is verified like the model."""
    import boto3

    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    from tests.fixtures import onnx_models

    model = tmp_path / "upload"
    model.mkdir()
    onnx_models.bag_of_words_classifier(model / "topics.onnx")
    onnx_models.word_tokenizer(model / "tokenizer.json")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    boto3.session.Session(region_name="us-east-1").client("s3").create_bucket(Bucket=bucket)  # no cached keys
    pushed = push(model, f"s3://{bucket}/topics/v1")
    assert set(pushed["files"]) == {"topics.onnx", "tokenizer.json"}
    root = tmp_path / "project"
    root.mkdir()
    (root / "labels.txt").write_text("\n".join(onnx_models.TOPICS) + "\n")
    (root / "lit.toml").write_text(
        f'name = "topics"\n[model]\npath = "{pushed["url"]}"\nsha256 = "{pushed["sha256"]}"\nformat = "onnx"\n'
        'input = "text"\nlabels = "labels.txt"\n'
    )
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LIT_MODEL_DIR", raising=False)
    app = start_app(root)
    assert app.ctx.settings.engine == "onnxruntime"
    answer = app.handle({"texts": ["the judge", "pasta with cheese"]})
    assert [p[0]["label"] for p in answer["predictions"]] == ["law", "food"]


def test_the_model_bucket_with_signatures_checked(
    moto_auth: dict, digits_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same round trip against a stand-in that verifies every signature: `lit model push`
    (botocore) writes, the runtime's own signer reads, under a key whose name needs encoding. Wrong
    keys and a wrong secret are refused, each with its cause."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_auth["url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_auth["key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_auth["secret"])
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    boto3.session.Session(region_name="us-east-1").client("s3").create_bucket(Bucket=bucket)  # no cached keys
    pushed = push(digits_copy / "model", f"s3://{bucket}/digits v1+ü/ö")
    project = remote_project(digits_copy, pushed["url"], pushed["sha256"])
    app = start_app(project)
    path, label = heldout(project)[0]
    assert int(app.handle(load_event("direct-image", path.read_bytes()))["predictions"][0][0]["label"]) == label

    shutil.rmtree(tmp_path / "cache")
    secret = moto_auth["secret"]  # random: its last character may already be the one put in its place
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret[:-1] + ("y" if secret.endswith("x") else "x"))
    with pytest.raises(ModelError, match="SignatureDoesNotMatch"):
        start_app(project)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + "Z" * 16)
    with pytest.raises(ModelError, match="InvalidAccessKeyId"):
        start_app(project)


def test_a_push_never_replaces_a_pinned_model_unless_forced(
    aws: str, digits_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pushing changed files to a URL that holds a model is refused (naming the function that pins
    it), the pinned model stays whole and keeps serving; the same model again is a no-op; `lit
    model list` shows each pushed model and who pins it; --force replaces."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/digits/v1"
    original = tmp_path / "original"
    shutil.copytree(digits_copy / "model", original)
    first = push(original, url)
    iam, lam = boto3.client("iam", region_name="us-east-1"), boto3.client("lambda", region_name="us-east-1")
    trust = {"Version": "2012-10-17", "Statement": []}
    role = iam.create_role(RoleName=f"r-{bucket}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    pinner = f"pin-{bucket}"
    lam.create_function(
        FunctionName=pinner,
        Role=role,
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lit-d@sha256:" + "a" * 64},
        PackageType="Image",
        Tags={"lit:model": first["sha256"]},
    )
    changed = tmp_path / "changed"
    shutil.copytree(original, changed)
    (changed / "notes.txt").write_text("a new file changes the manifest\n")
    args = [sys.executable, "-m", "lit", "model", "push", str(changed), url]
    refused = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "already holds another model" in refused.stderr, refused.stderr
    assert f"deployed functions pin it: {pinner}" in refused.stderr and "--force" in refused.stderr
    monkeypatch.setenv("LIT_MODEL_CACHE", str(tmp_path / "cache"))
    app = start_app(remote_project(digits_copy, first["url"], first["sha256"]))
    path, label = heldout(digits_copy)[0]
    assert int(app.handle(load_event("direct-image", path.read_bytes()))["predictions"][0][0]["label"]) == label
    again = push(original, url)
    assert again["sha256"] == first["sha256"] and again["pushed"] is False
    second = push(changed, f"s3://{bucket}/digits/v2")
    listed = subprocess.run(
        [sys.executable, "-m", "lit", "model", "list", f"s3://{bucket}/digits", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    models = {m["url"]: m for m in json.loads(listed.stdout)}
    assert models[url]["sha256"] == first["sha256"] and models[url]["pinned_by"] == [pinner]
    assert models[f"s3://{bucket}/digits/v2"]["sha256"] == second["sha256"]
    assert models[f"s3://{bucket}/digits/v2"]["pinned_by"] == [] and models[url]["files"] == 2
    forced = subprocess.run([*args, "--force", "--json"], capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0 and json.loads(forced.stdout)["sha256"] == second["sha256"]
