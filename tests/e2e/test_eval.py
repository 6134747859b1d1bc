"""`lit eval` through the real digits image under the RIE: the accuracy its training script measured
in process, and, against a deliberately worse model (one epoch of training), the drop with a
bootstrap interval that excludes 0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lit.docker import Docker
from tests.e2e.conftest import RUN_ID, copy_project, lit, train_digits

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def worse_image(
    docker: Docker, base_image: tuple[str, str], digits_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = copy_project(digits_project, tmp_path_factory.mktemp("worse") / "digits", f"digits-worse-t{RUN_ID}")
    train_digits(root, epochs=1)
    image = json.loads(lit("build", str(root), "--base", base_image[0], "--json").stdout)["image"]
    yield image
    docker.remove_image(image)
    assert docker.image(image) is None


def test_eval_gives_the_in_process_accuracy_and_shows_a_worse_model(
    digits_project: Path, digits_image: str, worse_image: str
) -> None:
    heldout = digits_project / "heldout"
    in_process = json.loads((heldout / "labels.json").read_text())["accuracy"]
    out = lit(
        "eval", str(digits_project), "--data", str(heldout), "--image", digits_image, "--against", worse_image, "--json"
    )
    report = json.loads(out.stdout)
    candidate, cmp = report["candidate"], report["comparison"]
    assert candidate["examples"] == 450 and candidate["failed"] == 0 and candidate["task"] == "classify"
    assert candidate["value"] == pytest.approx(in_process, abs=1e-6)
    assert sum(sum(row.values()) for row in candidate["details"]["confusion"].values()) == 450
    assert candidate["latency_p50_ms"] > 0
    worse = cmp["other"]["value"]
    assert worse < in_process - 0.05, f"one epoch of training gave {worse}"
    assert cmp["delta"] == pytest.approx(in_process - worse, abs=1e-6)
    lo, hi = cmp["interval"]
    assert 0 < lo <= cmp["delta"] <= hi, "the drop's interval excludes 0"
    assert cmp["differ"] > 0
    text = lit("eval", str(digits_project), "--data", str(heldout), "--image", digits_image, "--against", worse_image)
    assert "better" in text.stdout and "95% interval" in text.stdout


def test_eval_of_data_the_function_cannot_read_fails_with_the_cause(
    digits_project: Path, digits_image: str, tmp_path: Path
) -> None:
    (tmp_path / "rows.jsonl").write_text('{"text": "a digit?", "label": "3"}\n')
    proc = lit(
        "eval", str(digits_project), "--data", str(tmp_path / "rows.jsonl"), "--image", digits_image, check=False
    )
    assert proc.returncode == 1
    assert "answered none of the 1 examples" in proc.stderr and "lit schema" in proc.stderr
