"""Models brought from where they live: Model Server archives (.mar) made by the servers' own
archivers, turned into LIT projects by `lit init --from`, built, and run under the RIE.

- Multi Model Server itself serves the digits .mar on 127.0.0.1, and the LIT image made from the
  same archive answers the 450 held-out digits alike: the same top-1 on every one, probabilities
  within 1e-5 (`lit compare`, the product's own check);
- a TorchServe archive (the cnn-onnx example's model with a BaseHandler subclass) answers through
  the RIE as its handler does run in process.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker
from tests.conftest import DIGITS, ROOT, heldout
from tests.e2e.conftest import RUN_ID, lit
from tests.e2e.test_engines import CNN, invoke, trained
from tests.fixtures.mar import HERE, model_server, pack_mms_digits, pack_torchserve

pytestmark = pytest.mark.e2e
SHIMS = ROOT / "runtime" / "lit_runtime" / "adapters" / "shims"


def url_event(body: bytes, ctype: str) -> dict[str, Any]:
    """A function URL request carrying the body as a client sends it to the server."""
    return {
        "version": "2.0",
        "rawPath": "/",
        "requestContext": {"http": {"method": "POST"}, "domainName": "abc.lambda-url.us-east-1.on.aws"},
        "headers": {"content-type": ctype, "accept": "application/json"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def post(url: str, body: bytes, ctype: str) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.headers.get("Content-Type") is None
        data: bytes = resp.read()
        return data


def within(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(within(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(within(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tol
    return bool(a == b)


def test_mms_and_the_lit_image_of_its_archive_answer_the_heldout_digits_alike(
    docker: Docker, base_image: tuple[str, str], digits_model: Path, tmp_path: Path, running
) -> None:
    archive = pack_mms_digits(digits_model / "model", tmp_path)
    project = tmp_path / "digits-mar"
    init = lit("init", str(project), "--from", str(archive), "--name", f"digitsmar-t{RUN_ID}")
    assert "note: mxnet_model_service.py:55, mxnet_model_service.py:90: the handler asks for a GPU" in init.stderr
    image = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)["image"]
    try:
        with model_server(archive, "digits", tmp_path / "mms") as url:
            proc = lit(
                "compare", str(project), "--data", str(DIGITS / "heldout"), "--original", url,
                "--image", image, "--tolerance", "1e-5", "--json", check=False,
            )  # fmt: skip
            report = json.loads(proc.stdout)
            print(
                f"MMS vs LIT on {report['examples']} held-out digits: top-1 agrees on {report['top1_same']}, "
                f"largest probability difference {report['max_difference']}"
            )
            assert report["examples"] == report["compared"] == len(heldout(DIGITS)) == 450, report["failed"]
            assert report["top1_same"] == 450
            assert report["max_difference"] is not None and report["max_difference"] <= 1e-5
            assert report["same"] and proc.returncode == 0, proc.stderr
            # over HTTP, one body: the answer MMS sends, as MMS sends it
            png = (DIGITS / "heldout" / "0007.png").read_bytes()
            mms_body = post(url, png, "application/x-image")
        port = running(project, "--image", image)
        answer = invoke(port, url_event(png, "application/x-image"))
        # (MMS sends it with no Content-Type, as the handler set none; LIT says what it is)
        assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "application/json"
        assert within(json.loads(base64.b64decode(answer["body"])), json.loads(mms_body), 1e-5)
        # several images in one request: one call each (MMS's batch size, which the template asserts)
        b64 = [base64.b64encode((DIGITS / "heldout" / f"{i:04d}.png").read_bytes()).decode() for i in range(5, 8)]
        many = invoke(port, {"images": b64})["predictions"]
        assert len(many) == 3 and within(many[2], json.loads(mms_body), 1e-5)
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)


def in_process(model_dir: Path, bodies: list[tuple[bytes, str]], out: Path) -> list[Any]:
    """The archive's handler run in a process of its own, as TorchServe runs it (fixtures/mar/in_process.py)."""
    spec = out / "bodies.json"
    spec.write_text(json.dumps([{"b64": base64.b64encode(b).decode(), "content_type": t} for b, t in bodies]))
    proc = subprocess.run(
        [sys.executable, str(HERE / "in_process.py"), str(model_dir), str(SHIMS), str(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT / "runtime"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers: list[Any] = json.loads(proc.stdout)
    return answers


def test_a_torchserve_archive_answers_through_the_rie_as_its_handler_in_process(
    docker: Docker, ort_base_image: str, digits_model: Path, tmp_path: Path, running
) -> None:
    pytest.importorskip("onnxruntime")
    trained(CNN, "model/cnn.onnx", "model/cnn.onnx.data", "samples.json")
    archive = pack_torchserve(CNN / "model" / "cnn.onnx", tmp_path)
    project = tmp_path / "digits-ts"
    lit("init", str(project), "--from", str(archive), "--name", f"digitsts-t{RUN_ID}")
    assert 'kind = "torchserve"' in (project / "lit.toml").read_text()
    samples = json.loads((CNN / "samples.json").read_text())
    pngs = [p.read_bytes() for p, _ in heldout(DIGITS)[:24]]
    pixels = [json.dumps({"inputs": x}).encode() for x in samples["inputs"][:8]]
    bodies = [(p, "application/x-image") for p in pngs] + [(x, "application/json") for x in pixels]
    want = in_process(project / "model", bodies, tmp_path)
    image = json.loads(lit("build", str(project), "--base", ort_base_image, "--json").stdout)["image"]
    try:
        port = running(project, "--image", image)
        got = invoke(port, {"images": [base64.b64encode(p).decode() for p in pngs]})["predictions"]
        got += [invoke(port, {"body": x.decode(), "contentType": "application/json"})["predictions"][0] for x in pixels]
        diff = max(abs(g[k] - w[k]) for g, w in zip(got, want) for k in w)
        print(f"TorchServe handler through the RIE vs in process, {len(want)} inputs: max |diff| {diff:.2e}")
        assert len(got) == len(want) == 32 and all(g.keys() == w.keys() for g, w in zip(got, want))
        assert diff <= 1e-5
        top = [max(g, key=lambda k: g[k]) for g in got[24:]]
        right = sum(t == f"digit {label}" for t, label in zip(top, samples["labels"]))
        assert right >= 7, f"the handler reads pixels as the model was trained on: {right}/8 right"
        # one body over HTTP: the handler's answer with the content type it set
        answer = invoke(port, url_event(pngs[0], "image/png"))
        assert answer["statusCode"] == 200 and answer["headers"]["content-type"] == "application/json"
        assert within(json.loads(base64.b64decode(answer["body"])), want[0], 1e-5)
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)
