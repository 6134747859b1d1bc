"""A SageMaker model artifact brought over: `lit init --from model.tar.gz`, `lit build`, then the image
under the RIE answers as SageMaker's own toolkit answers in process (lit/sagemaker_reference.py:
Model Server's Python backend driving sagemaker-inference's Transformer over
the artifact's code/inference.py), over a function URL and by direct invoke."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker
from tests.conftest import DIGITS, load_event, sagemaker_reference
from tests.e2e.conftest import RUN_ID, lit, remove_stages_since

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ort_base(docker: Docker) -> Iterator[str]:
    """The ONNX Runtime base with this checkout's runtime, under a test tag (its layers below the
    runtime come from the build cache)."""
    tag = f"lit-base:test-sm-{RUN_ID}-onnxruntime"
    started = time.time()
    lit("base", "build", "--engine", "onnxruntime", "--tag", tag, "-q", "--json")
    yield tag
    docker.remove_image(tag)
    remove_stages_since(docker, started)


def _png(i: int) -> bytes:
    return (DIGITS / "heldout" / f"{i:04d}.png").read_bytes()


def _pixels(i: int) -> list[list[int]]:
    """A held-out digit's 8x8 pixels (0..255), as a JSON client would send them."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(_png(i))).convert("L")
    return [[image.getpixel((x, y)) for x in range(8)] for y in range(8)]


# (body, content type, accept): images as SageMaker clients send them, JSON of one and of two digits,
# and the toolkit's encoder for CSV and NPY answers
REQUESTS = [
    (lambda: _png(0), "image/png", "application/json"),
    (lambda: _png(1), "application/x-image", "*/*"),
    (lambda: _png(2), "image/png", "application/json"),
    (lambda: json.dumps({"instances": [_pixels(3)]}).encode(), "application/json", "application/json"),
    (lambda: json.dumps({"instances": [_pixels(4), _pixels(5)]}).encode(), "application/json", "application/json"),
    (lambda: _png(6), "image/png", "text/csv"),
    (lambda: _png(7), "image/png", "application/x-npy"),
]


def _close(a: Any, b: Any, tol: float = 1e-5) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tol
    return bool(a == b)


def _same_body(got: bytes, want: bytes, content_type: str) -> bool:
    if content_type == "application/json":
        return _close(json.loads(got), json.loads(want))
    if content_type == "text/csv":
        rows = lambda data: [[float(v) for v in line.split(",")] for line in data.decode().splitlines()]  # noqa: E731
        return _close(rows(got), rows(want))
    if content_type == "application/x-npy":
        import io

        import numpy as np

        a, b = np.load(io.BytesIO(got)), np.load(io.BytesIO(want))
        return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-5, rtol=0))
    return got == want


def _invoke(port: int, event: Any) -> Any:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.loads(resp.read())


def _url_event(body: bytes, content_type: str, accept: str) -> dict[str, Any]:
    event = load_event("function-url-binary", body)
    event["headers"].update({"content-type": content_type, "accept": accept})
    return event


def test_sagemaker_artifact_answers_through_the_rie_as_sagemaker_does(
    docker: Docker, ort_base: str, sagemaker_artifact: Path, running, tmp_path: Path
) -> None:
    project = tmp_path / "sm-digits"
    out = json.loads(
        lit("init", str(project), "--from", str(sagemaker_artifact), "--name", f"sm-t{RUN_ID}", "--json").stdout
    )
    assert out["notes"] == [], out  # the example's handler needs nothing Lambda lacks
    image = json.loads(lit("build", str(project), "--base", ort_base, "--json").stdout)["image"]
    try:
        requests = [(make(), ctype, accept) for make, ctype, accept in REQUESTS]
        reference = sagemaker_reference(
            project / "model",
            [{"body_b64": base64.b64encode(b).decode(), "content_type": c, "accept": a} for b, c, a in requests],
        )
        assert all(r["status"] == 200 for r in reference), reference
        port = running(project, "--image", image)
        for (body, ctype, accept), want in zip(requests, reference, strict=True):
            # a function URL request, with its Content-Type and Accept headers
            answer = _invoke(port, _url_event(body, ctype, accept))
            assert answer["statusCode"] == 200, answer
            assert answer["headers"]["content-type"] == want["content_type"]
            got = base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"].encode()
            assert _same_body(got, want["body"], want["content_type"]), (ctype, accept, got[:200], want["body"][:200])
            # a direct invoke of the same request: the answer's JSON form, one prediction per body
            direct = _invoke(
                port,
                {
                    "body": base64.b64encode(body).decode(),
                    "isBase64Encoded": True,
                    "contentType": ctype,
                    "accept": accept,
                },
            )
            (prediction,) = direct["predictions"]
            if want["content_type"] == "application/json":
                assert _close(prediction, json.loads(want["body"]))
            elif want["content_type"] == "text/csv":
                assert _same_body(prediction.encode(), want["body"], "text/csv")
            else:
                assert prediction["content_type"] == want["content_type"]
                assert _same_body(base64.b64decode(prediction["base64"]), want["body"], want["content_type"])
        # {"image": base64}, the direct form LIT's own functions take, reaches the handler as an image
        direct = _invoke(port, {"image": base64.b64encode(_png(0)).decode()})
        assert _close(direct["predictions"][0], json.loads(reference[0]["body"]))
        # a content type the handler refuses: the toolkit's message, answered 415 (SageMaker: 500)
        refused = _invoke(port, _url_event(b"1,2,3", "text/plain", "application/json"))
        (ref,) = sagemaker_reference(
            project / "model",
            [
                {
                    "body_b64": base64.b64encode(b"1,2,3").decode(),
                    "content_type": "text/plain",
                    "accept": "application/json",
                }
            ],
        )
        assert ref["status"] == 500 and b"Content type text/plain is not supported" in ref["body"]
        assert refused["statusCode"] == 415 and "Content type text/plain is not supported" in refused["body"]
        # `lit compare`: the 450 held-out digits through sagemaker-inference in process and the image
        proc = lit(
            "compare",
            str(project),
            "--data",
            str(DIGITS / "heldout"),
            "--original",
            "sagemaker",
            "--image",
            image,
            "--json",
            check=False,
        )
        report = json.loads(proc.stdout)
        assert proc.returncode == 0 and report["same"], (proc.stderr[-2000:], report)
        assert report["compared"] == report["within"] == report["examples"] == 450
        assert report["max_difference"] is not None and report["max_difference"] <= 1e-5
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)
