"""The spine end to end: base image -> function image -> local Lambda (RIE) -> answers."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tarfile
import urllib.request
import uuid
from pathlib import Path

import pytest

from lit.docker import Docker, RunSpec
from tests.conftest import FIXTURES, free_port, heldout
from tests.e2e.conftest import RUN_ID, _function_name, copy_project, lit

pytestmark = pytest.mark.e2e
INVOKE = "http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"


def post(port: int, event: object) -> tuple[int, dict]:
    req = urllib.request.Request(INVOKE.format(port=port), data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, json.loads(resp.read())


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_base_image_contract(docker: Docker, base_image: tuple[str, str]) -> None:
    tag, _ = base_image
    info = docker.image(tag)
    assert info is not None
    assert info["Config"]["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert info["Config"]["Cmd"] == ["lit_runtime.handler.handler"]
    assert info["Config"]["WorkingDir"] == "/var/task"
    spec = RunSpec(
        tag,
        (
            "-c",
            "import sys, mxnet, cv2, numpy, awslambdaric, lit_runtime; print(sys.version_info[:2], mxnet.__version__, numpy.__version__)",
        ),
        network="none",
        entrypoint="/opt/lit/bin/python",
    )
    proc = docker.run_once(spec)
    assert proc.returncode == 0, proc.stderr
    assert "(3, 11) 1.9.1 1.23.5" in proc.stdout


def test_no_layer_holds_the_ca_bundle(docker: Docker, base_image: tuple[str, str], tmp_path: Path) -> None:
    tag, marker = base_image
    archive = tmp_path / "base.tar"
    subprocess.run([docker.binary, "save", "-o", str(archive), tag], check=True)
    needle = marker.encode()
    layers = 0
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.name.endswith("layer.tar"):
                continue
            layers += 1
            with tarfile.open(fileobj=outer.extractfile(member)) as layer:
                for entry in layer.getmembers():
                    if entry.isfile() and entry.size < 50_000_000:
                        data = layer.extractfile(entry)
                        assert data is not None
                        assert needle not in data.read(), f"{entry.name} in a layer holds the build's CA bundle"
    assert layers >= 1


def test_digits_answer_through_the_rie(digits_project: Path, digits_image: str, running) -> None:
    port = running(digits_project, "--image", digits_image)
    cases = heldout(digits_project)
    right = 0
    for path, label in cases:
        status, answer = post(port, {"image": b64(path)})
        assert status == 200, answer
        right += int(answer["predictions"][0][0]["label"]) == label
    accuracy = right / len(cases)
    print(f"held-out accuracy through the RIE: {accuracy:.4f} on {len(cases)} PNG digits")
    assert accuracy >= 0.95

    # the CLI path users type, with the REPORT figures
    path, label = cases[0]
    out = json.loads(lit("invoke", str(digits_project), "--image", str(path), "--json").stdout)
    assert int(out["payload"]["predictions"][0][0]["label"]) == label
    assert out["report"]["duration_ms"] > 0 and out["report"]["memory_size_mb"] == 1024
    assert out["report"]["max_memory_used_mb"] > 0


def test_container_gets_lambda_limits_on_loopback(
    docker: Docker, digits_project: Path, digits_image: str, running
) -> None:
    port = running(digits_project, "--image", digits_image, "--memory", "3538", "--timeout", "7")
    [c] = docker.containers(f"lit.run=digits-t{RUN_ID}")
    info = docker.inspect_container(c.id)
    assert info is not None
    host = info["HostConfig"]
    assert host["Memory"] == 3538 * 2**20 and host["MemorySwap"] == 3538 * 2**20
    assert host["NanoCpus"] == 2 * 10**9  # 3,538 MB = 2 vCPUs
    assert host["PortBindings"]["8080/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT=7" in info["Config"]["Env"]


def test_bad_input_and_raising_handler_keep_serving(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, digits_image: str, tmp_path: Path, running
) -> None:
    # client error in a direct invoke: Lambda's error shape, no stack trace, next request fine
    port = running(digits_project, "--image", digits_image)
    _, answer = post(port, {"image": base64.b64encode(b"not a png").decode()})
    assert answer["errorType"] == "InputError" and "decodable" in answer["errorMessage"]
    path, label = heldout(digits_project)[0]
    assert int(post(port, {"image": b64(path)})[1]["predictions"][0][0]["label"]) == label

    # a user hook that raises: Lambda's error shape; the container keeps serving
    project = copy_project(digits_project, tmp_path / "raiser", f"raiser-t{RUN_ID}")
    shutil.copy(FIXTURES / "services" / "raises_in_inference.py", project / "service.py")
    image = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)["image"]
    try:
        port = running(project)
        import cv2  # noqa: F401  (host-side only, to make a white PNG)
        import numpy as np

        white = base64.b64encode(cv2.imencode(".png", np.full((8, 8), 255, "uint8"))[1].tobytes()).decode()
        _, answer = post(port, {"image": white})
        assert answer["errorType"] == "ValueError" and "exploded" in answer["errorMessage"]
        assert int(post(port, {"image": b64(path)})[1]["predictions"][0][0]["label"]) == label
        proc = lit("invoke", str(project), "-d", json.dumps({"image": white}), check=False)
        assert proc.returncode == 1 and "ValueError" in proc.stdout
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(image)


def test_code_only_rebuild_changes_only_the_top_layer(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path: Path
) -> None:
    project = copy_project(digits_project, tmp_path / "layers", f"layers-t{RUN_ID}")
    tag = f"lit-layers-t{RUN_ID}:latest"
    first: dict = {}
    try:
        first = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)
        before = (docker.image(tag) or {})["RootFS"]["Layers"]
        (project / "service.py").write_text((FIXTURES / "services" / "custom_postprocess.py").read_text())
        second = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)
        after = (docker.image(tag) or {})["RootFS"]["Layers"]
        print(f"build {first['seconds']}s, code-only rebuild {second['seconds']}s")
        assert len(before) == len(after)
        assert before[:-1] == after[:-1], "only the code layer may change"
        assert before[-1] != after[-1]
        top = second["layers"][0]
        assert "COPY" in top["created_by"] or top["size"] < 100_000
        assert max(layer["size"] for layer in second["layers"][:3]) < 100_000
    finally:
        docker.remove_image(tag)
        if first:
            docker.remove_image(first["id"])  # the replaced image, left dangling by the rebuild


def test_the_image_carries_lit_toml_as_checked_and_runs_it_until_rebuilt(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path: Path, running
) -> None:
    from lit import project as projects
    from lit import runtime_config

    project = copy_project(digits_project, tmp_path / "config", f"config-t{RUN_ID}")
    tag = f"lit-config-t{RUN_ID}:latest"
    replaced = ""
    try:
        replaced = json.loads(lit("build", str(project), "--base", base_image[0], "--json").stdout)["id"]
        carried = docker.run_once(RunSpec(tag, ("/var/task/lit.json",), network="none", entrypoint="cat")).stdout
        assert json.loads(carried) == runtime_config.document(projects.load(project))
        path, _ = heldout(project)[0]
        config = project / "lit.toml"
        config.write_text(config.read_text().replace("top_k = 3", "top_k = 2"))

        started = lit("run", str(project), "--port", str(port := free_port()))
        assert "lit.toml changed since" in started.stderr and "`lit build" in started.stderr
        assert len(post(port, {"image": b64(path)})[1]["predictions"][0]) == 3, "the image runs what it was built with"
        lit("stop", str(project))

        lit("build", str(project), "--base", base_image[0], "-q")
        port = running(project)
        assert len(post(port, {"image": b64(path)})[1]["predictions"][0]) == 2
        again = lit("run", str(project), "--port", str(free_port()))
        assert "lit.toml changed" not in again.stderr
    finally:
        lit("stop", str(project), check=False)
        docker.remove_image(tag)
        if replaced:
            docker.remove_image(replaced)


def test_model_that_fails_to_load_fails_the_build_and_keeps_the_old_image(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path: Path
) -> None:
    project = copy_project(digits_project, tmp_path / "broken", f"broken-t{RUN_ID}")
    tag = f"lit-broken-t{RUN_ID}:latest"
    try:
        lit("build", str(project), "--base", base_image[0], "-q")
        good = (docker.image(tag) or {})["Id"]
        (project / "model" / "digits-0000.params").write_bytes(b"this is not an NDArray file")
        proc = lit("build", str(project), "--base", base_image[0], "-q", check=False)
        assert proc.returncode != 0
        assert "does not start" in proc.stderr and "digits-0000.params" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert (docker.image(tag) or {})["Id"] == good, "a failed build must not replace the good image"
    finally:
        docker.remove_image(tag)


def test_port_in_use_and_missing_images(
    base_image: tuple[str, str], digits_project: Path, digits_image: str, running
) -> None:
    serving = running(digits_project, "--image", digits_image)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = lit("run", str(digits_project), "--image", digits_image, "--port", str(port), check=False)
    assert proc.returncode == 1 and f"port {port}" in proc.stderr and "--port" in proc.stderr
    # the instance that was serving is left serving (the port is checked before it is touched)
    png = sorted((digits_project / "heldout").glob("*.png"))[0].read_bytes()
    body = json.dumps({"image": base64.b64encode(png).decode()}).encode()
    url = f"http://127.0.0.1:{serving}/2015-03-31/functions/function/invocations"
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=60) as resp:
        assert "predictions" in json.loads(resp.read())

    proc = lit("build", str(digits_project), "--base", f"lit-base:missing-{uuid.uuid4().hex[:6]}", check=False)
    assert proc.returncode == 1 and "lit base build" in proc.stderr

    proc = lit("run", str(digits_project), "--image", f"lit-none:{uuid.uuid4().hex[:6]}", check=False)
    assert proc.returncode == 1 and "lit build" in proc.stderr


def test_on_lambda_the_entrypoint_runs_the_runtime_client_directly(docker: Docker, digits_image: str) -> None:
    # With AWS_LAMBDA_RUNTIME_API set (as on Lambda) the emulator must not start: awslambdaric
    # runs the init, then asks that (here unreachable) Runtime API for work and exits.
    spec = RunSpec(digits_image, network="none", env={"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"})
    proc = docker.run_once(spec, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert '"event": "init"' in output, output[-2000:]
    assert "(rapid)" not in output, "the RIE started although the Runtime API was given"


def test_sqs_batch_through_the_rie(digits_project: Path, digits_image: str, running) -> None:
    from tests.conftest import batch_event

    port = running(digits_project, "--image", digits_image)
    cases = heldout(digits_project)[:5]
    images = [p.read_bytes() for p, _ in cases]
    images.insert(2, b"broken record")
    status, answer = post(port, batch_event("sqs-batch", images))
    assert status == 200
    assert answer["batchItemFailures"] == [{"itemIdentifier": answer["results"][2]["id"]}]
    labels = [int(r["predictions"][0][0]["label"]) for i, r in enumerate(answer["results"]) if i != 2]
    assert sum(a == b for a, b in zip(labels, [label for _, label in cases])) >= 4


def test_extra_requirements_get_their_own_layer_and_keep_the_base_pins(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path: Path
) -> None:
    project = copy_project(digits_project, tmp_path / "reqs", f"reqs-t{RUN_ID}")
    (project / "requirements.txt").write_text("tabulate==0.9.0\n")
    (project / "service.py").write_text(
        "def initialize(context):\n    import tabulate\n\n    context.state['tabulate'] = tabulate.__version__\n"
    )
    tag = f"lit-reqs-t{RUN_ID}:latest"
    try:
        lit("build", str(project), "--base", base_image[0], "-q")  # its check imports tabulate in init
        listing = ("-c", "ls /opt/extra/lib/python3.11/site-packages")
        proc = docker.run_once(RunSpec(tag, listing, network="none", entrypoint="sh"))
        assert proc.stdout.split() == ["tabulate", "tabulate-0.9.0.dist-info"], "only the new package, numpy untouched"
        # pip ran with the build's CA bundle in the requirements stage: no layer of the image holds it
        scan = json.loads(lit("scan", tag, "--json").stdout)
        assert scan["findings"] == [] and scan["unscanned"] == []

        (project / "requirements.txt").write_text("numpy==1.26.4\n")
        proc = lit("build", str(project), "--base", base_image[0], "-q", check=False)
        assert proc.returncode == 1 and "numpy 1.23.5" in proc.stderr and "fix:" in proc.stderr
    finally:
        docker.remove_image(tag)


def test_idle_reclaim_makes_the_next_request_a_cold_start(
    docker: Docker, digits_project: Path, digits_image: str, running
) -> None:
    """`lit run --idle-reclaim`: an instance idle that long is reclaimed as Lambda reclaims an
    environment; its next request answers (the endpoint resends it) after a fresh init."""
    import time

    port = running(digits_project, "--image", digits_image, "--idle-reclaim", "2s")
    (path, label), *_ = heldout(digits_project)

    def inits() -> tuple[int, int]:
        name = _function_name(digits_project)
        (instance,) = [c for c in docker.containers(f"lit.run={name}") if c.labels.get("lit.role") == "instance"]
        logs = docker.logs(instance.id)
        return logs.count('"event": "init"'), logs.count('"event": "reclaimed"')

    def ask() -> float:
        t0 = time.perf_counter()
        status, answer = post(port, {"image": b64(path)})
        assert status == 200 and int(answer["predictions"][0][0]["label"]) == label
        return time.perf_counter() - t0

    ask()
    warm = ask()
    assert inits() == (1, 0)
    deadline = time.monotonic() + 15
    while inits() != (1, 1) and time.monotonic() < deadline:  # idle 2 s, then reclaimed
        time.sleep(0.1)
    assert inits() == (1, 1)  # reclaimed while idle, before any request asked
    cold = ask()
    assert inits() == (2, 1)
    assert cold > 5 * warm  # the init ran again
    ask()
    assert inits() == (2, 1)  # and the environment is warm again
