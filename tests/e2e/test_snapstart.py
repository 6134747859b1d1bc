"""SnapStart's lifecycle through the RIE, emulated (`lit run --snapstart`, lit_runtime.restore_api):
the text example built with `snapstart = true` and a user hook on each side runs init, its
before_snapshot hook, the "snapshot", LIT's renewal and its after_restore hook, then answers as it
does without SnapStart. Environments restored from one init must not share random state, and a
failing hook gives the lifecycle's own error, naming the hook."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from lit.docker import Docker
from tests.e2e.conftest import RUN_ID, copy_project, lit
from tests.e2e.test_examples import invoke, trained

pytestmark = pytest.mark.e2e

# A function that seeds at init for reproducible answers, as many do: every environment restored
# from one snapshot would then draw the same numbers, unless the runtime renews them after the restore.
SERVICE = """
import json, os, random, tempfile
import numpy as np

def initialize(context):
    random.seed(0)
    np.random.seed(0)

def before_snapshot(context):
    if os.environ.get("FAIL_HOOK") == "before":
        raise ValueError("the cache is not warm")
    context.state["before_snapshot"] = True

def after_restore(context):
    if os.environ.get("FAIL_HOOK") == "after":
        raise RuntimeError("cannot reach the feature store")
    draws = {
        "event": "test-draws",
        "saw_before_snapshot": context.state.get("before_snapshot", False),
        "python": random.random(),
        "numpy": float(np.random.rand()),
        "request_id": "%016x" % random.getrandbits(64),
        "tempname": next(tempfile._get_candidate_names()),
    }
    print(json.dumps(draws), flush=True)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(
        trained("text-embed", "heldout.json"), tmp_path_factory.mktemp("snap") / "fn", f"snap-t{RUN_ID}"
    )
    config = root / "lit.toml"
    config.write_text(config.read_text().replace("[function]\n", "[function]\nsnapstart = true\n"))
    (root / "service.py").write_text(SERVICE)
    return root


@pytest.fixture(scope="module")
def image(docker: Docker, ort_base_image: str, project: Path) -> Any:
    built = json.loads(lit("build", str(project), "--base", ort_base_image, "--json").stdout)["image"]
    yield built
    lit("stop", str(project), check=False)
    docker.remove_image(built)
    assert docker.image(built) is None, f"{built} was left behind"


def events(logs: str) -> list[dict[str, Any]]:
    """The runtime's JSON lines (the init line is also an EMF record) that name an event."""
    found = []
    for line in logs.splitlines():
        if line.startswith("{") and '"event"' in line:
            found.append(json.loads(line))
    return found


def test_two_environments_restored_from_one_init_answer_alike_and_draw_apart(
    docker: Docker, project: Path, image: str, running: Any
) -> None:
    port = running(project, "--image", image, "--concurrency", "2")
    texts = {"texts": ["the stock market fell sharply today", "a new species of frog was found"]}
    answers: list[Any] = []
    # two requests at once: both instances are busy, so each runs its own init and restore
    threads = [threading.Thread(target=lambda: answers.append(invoke(port, texts))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(answers) == 2 and answers[0] == answers[1]
    name = f"snap-t{RUN_ID}"
    instances = [c for c in docker.containers(f"lit.run={name}") if c.labels.get("lit.role") == "instance"]
    assert len(instances) == 2
    draws = []
    for c in instances:
        kinds = [e["event"] for e in events(docker.logs(c.id))]
        # the lifecycle, in order: init, the snapshot, the user's after_restore, the end of the restore
        assert kinds[:4] == ["init", "snapshot", "test-draws", "restore"], kinds
        draws.append(next(e for e in events(docker.logs(c.id)) if e["event"] == "test-draws"))
    assert all(d["saw_before_snapshot"] for d in draws), "before_snapshot ran before the snapshot, in the same state"
    for key in ("python", "numpy", "request_id", "tempname"):
        assert draws[0][key] != draws[1][key], f"{key}: both environments drew {draws[0][key]!r} after the restore"

    # the same answers as without SnapStart
    plain = running(project, "--image", image, "--no-snapstart")
    assert invoke(plain, texts) == answers[0]


def test_invoke_reports_the_restore_as_lambda_does(project: Path, image: str, running: Any) -> None:
    running(project, "--image", image)  # lit.toml's snapstart = true
    first = lit("invoke", str(project), "--data", '{"text": "hello"}', "--json")
    report = json.loads(first.stdout)["report"]
    assert report["restore_duration_ms"] > 0
    assert "init_duration_ms" not in report, "a restored environment's REPORT has no init: it ran before the snapshot"
    second = json.loads(lit("invoke", str(project), "--data", '{"text": "hello"}', "--json").stdout)["report"]
    assert "restore_duration_ms" not in second
    shown = lit("invoke", str(project), "--data", '{"text": "x"}')
    assert "REPORT" in shown.stderr


@pytest.mark.parametrize(
    ("side", "error", "cause"),
    [("after", "AfterRestoreError", "cannot reach the feature store"), ("before", "BeforeSnapshotError", "cache")],
)
def test_a_failing_hook_gives_the_lifecycle_error_naming_it(
    project: Path, image: str, running: Any, tmp_path: Path, side: str, error: str, cause: str
) -> None:
    failing = copy_project(project, tmp_path / "failing", f"snap-t{RUN_ID}")
    config = failing / "lit.toml"
    config.write_text(
        config.read_text().replace("[function]\n", f'[function]\nenvironment = {{ FAIL_HOOK = "{side}" }}\n')
    )
    running(failing, "--image", image)
    proc = lit("invoke", str(failing), "--data", '{"text": "hello"}', check=False)
    assert proc.returncode == 1
    answer = json.loads(proc.stdout)
    assert answer["errorType"] == error
    hook = "after_restore" if side == "after" else "before_snapshot"
    assert f"service.py {hook}(context) failed" in answer["errorMessage"] and cause in answer["errorMessage"]
