"""`lit compare`: the same inputs through the original server and the LIT image, answer by answer.

A project made from another server's archive (`lit init --from`) must answer as that server did.
The original is reached over HTTP as its own clients reach it: Model Server's and TorchServe's
`/predictions/NAME`, a SageMaker container's `/invocations`. Each example's input goes to it as
the body those servers take (an image's bytes as application/x-image, a text as text/plain, other
inputs as JSON), and to the image under the RIE as a direct invoke.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LitError
from .eval_data import Dataset
from .evaluate import Answers, Send, collect

LABEL_KEYS = ("class", "label", "name", "category")
SCORE_KEYS = ("probability", "score", "prob", "confidence")


@dataclass
class Report:
    data: str
    original: str
    candidate: str
    tolerance: float
    examples: int
    compared: int  # examples both answered
    within: int  # of those, answers equal within the tolerance
    max_difference: float | None  # the largest number's difference; None: some answers differ otherwise
    top1_same: int | None  # examples whose top-1 label agrees, where the answers are ranked labels
    worst: list[tuple[str, float | None]] = field(default_factory=list)  # the examples that differ most
    failed: dict[str, str] = field(default_factory=dict)  # example -> which side failed, and how
    same: bool = False  # every example answered by both, equal within the tolerance


def body_of(event: dict[str, Any]) -> tuple[bytes, str]:
    """A direct event's input as the original server's clients send it: (body, content type)."""
    if set(event) == {"image"} and isinstance(event["image"], str):
        return base64.b64decode(event["image"]), "application/x-image"
    if set(event) == {"text"} and isinstance(event["text"], str):
        return event["text"].encode(), "text/plain"
    return json.dumps(event).encode(), "application/json"


def http_original(url: str, timeout: float = 60) -> Send:
    """A Send to a server at url: each event's input POSTed as its body, the answer read back as
    {"predictions": [answer]} (LIT's own shape, for `evaluate.collect`)."""

    def send(raw_event: bytes) -> tuple[int, bytes]:
        body, ctype = body_of(json.loads(raw_event))
        request = urllib.request.Request(url, data=body, headers={"Content-Type": ctype, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's own server
                status, data = response.status, response.read()
                # MMS sends a handler's answer with no Content-Type unless the handler set one
                rtype = response.headers.get_content_type() if response.headers.get("Content-Type") else ""
        except urllib.error.HTTPError as exc:
            return exc.code, json.dumps({"errorMessage": exc.read().decode(errors="replace")[:500]}).encode()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LitError(
                f"could not reach the original server at {url}: {reason}",
                "start it (for a .mar: multi-model-server --start --models NAME=ARCHIVE, or torchserve --start) "
                "and pass its prediction URL",
            ) from None
        return status, json.dumps({"predictions": [read_answer(data, rtype)]}).encode()

    return send


@contextmanager
def sagemaker_original(model_dir: Path, python: str) -> Iterator[Send]:
    """A Send to the artifact's handler run in process the way SageMaker's containers run it
    (lit/sagemaker_reference.py, under `python`: it needs the handler's packages, sagemaker-inference
    and multi-model-server), the model loaded once."""
    script = Path(__file__).with_name("sagemaker_reference.py")
    try:
        proc = subprocess.Popen(
            [python, str(script), str(model_dir), "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise LitError(f"could not run {python}: {exc}", "pass --python with an interpreter that exists") from None
    assert proc.stdin is not None and proc.stdout is not None

    def failed() -> LitError:
        proc.kill()
        tail = (proc.stderr.read() if proc.stderr else "")[-1500:].strip()
        return LitError(
            f"the SageMaker handler could not run in process under {python}: {tail or 'it ended'}",
            "pass --python with an interpreter that has the handler's packages, sagemaker-inference and "
            "multi-model-server (pip install sagemaker-inference multi-model-server)",
        )

    def send(raw_event: bytes) -> tuple[int, bytes]:
        body, ctype = body_of(json.loads(raw_event))
        request = {"body_b64": base64.b64encode(body).decode(), "content_type": ctype, "accept": "application/json"}
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            raise failed()
        got = json.loads(line)
        data = base64.b64decode(got["body_b64"])
        if got["status"] != 200:
            return got["status"], json.dumps({"errorMessage": data.decode(errors="replace")[:500]}).encode()
        return 200, json.dumps({"predictions": [read_answer(data, got["content_type"].split(";")[0])]}).encode()

    try:
        if not proc.stdout.readline().strip():  # its "ready" line, once the model is loaded
            raise failed()
        yield send
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()


def read_answer(data: bytes, content_type: str) -> Any:
    """An answer body as the adapter reads its handler's (lit_runtime.adapters.jsonable): JSON
    parsed, text as a string, other bytes as base64."""
    json_type = content_type in ("", "application/json") or content_type.endswith("+json")  # "": none sent
    if json_type:
        try:
            return json.loads(data)
        except ValueError:
            pass
    if json_type or content_type.startswith("text/"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"base64": base64.b64encode(data).decode("ascii"), "content_type": content_type}


def difference(a: Any, b: Any) -> float:
    """The largest difference between two answers' numbers; inf where they differ otherwise (a key,
    a length, a string, a type)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return 0.0 if type(a) is type(b) and a == b else math.inf
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return 0.0 if a == b else abs(float(a) - float(b))
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf
        return max((difference(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return math.inf
        return max((difference(a[k], b[k]) for k in a), default=0.0)
    return 0.0 if a == b else math.inf


def top1(answer: Any) -> str | None:
    """The best label of a ranked answer: [{"class": ..., "probability": ...}, ...] (Model Server's),
    {label: score}, or a list of scores (the index). None for other answers."""
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], (list, dict)):
        answer = answer[0]  # one example's answer, in a batch of one
    if isinstance(answer, list) and answer and all(isinstance(x, dict) for x in answer):
        label = next((k for k in LABEL_KEYS if k in answer[0]), None)
        score = next((k for k in SCORE_KEYS if k in answer[0]), None)
        if label and score and all(isinstance(x.get(score), (int, float)) for x in answer):
            return str(max(answer, key=lambda x: x[score])[label])
        return None
    if isinstance(answer, dict) and answer and all(isinstance(v, (int, float)) for v in answer.values()):
        return str(max(answer, key=lambda k: answer[k]))
    if (
        isinstance(answer, list)
        and answer
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in answer)
    ):
        return str(max(range(len(answer)), key=lambda i: answer[i]))
    return None


def compare(data: Dataset, candidate: Answers, original: Answers, tolerance: float) -> Report:
    diffs: list[tuple[str, float]] = []
    failed: dict[str, str] = {}
    top_same, ranked = 0, 0
    for ex, mine, theirs in zip(data.examples, candidate.predictions, original.predictions):
        if mine is None or theirs is None:
            side = candidate if mine is None else original
            failed[ex.name] = f"{side.target}: {side.errors.get(ex.name, 'no answer')}"
            continue
        diffs.append((ex.name, difference(mine, theirs)))
        a, b = top1(mine), top1(theirs)
        if a is not None and b is not None:
            ranked += 1
            top_same += a == b
    worst = sorted((d for d in diffs if d[1] > 0), key=lambda d: -d[1])[:5]
    largest = max((d for _, d in diffs), default=0.0)
    return Report(
        data=data.source,
        original=original.target,
        candidate=candidate.target,
        tolerance=tolerance,
        examples=len(data.examples),
        compared=len(diffs),
        within=sum(d <= tolerance for _, d in diffs),
        max_difference=None if math.isinf(largest) else largest,
        top1_same=top_same if ranked == len(diffs) and ranked else None,
        worst=[(name, None if math.isinf(d) else d) for name, d in worst],
        failed=failed,
        same=not failed and all(d <= tolerance for _, d in diffs) and len(diffs) == len(data.examples),
    )


def run(
    data: Dataset,
    candidate: Callable[[], Answers],
    original: str,
    tolerance: float,
    log: Callable[[str], None],
    project: Any,
    python: str,
) -> Report:
    """original: a prediction URL, or "sagemaker" (the project's artifact, its handler run in process)."""
    if original != "sagemaker":
        theirs = collect(original, data, http_original(original), 1, log)
        return compare(data, candidate(), theirs, tolerance)
    if project.adapter is None or project.adapter.kind != "sagemaker" or project.model_path is None:
        raise LitError(
            "--original sagemaker runs a SageMaker artifact's handler, and this project was not made from one",
            "pass the original server's prediction URL instead",
            exit_code=2,
        )
    with sagemaker_original(project.model_path, python) as send:
        theirs = collect("sagemaker-inference, in process", data, send, 1, log)
    return compare(data, candidate(), theirs, tolerance)


def render(report: Report) -> str:
    lines = [
        f"{report.examples} examples from {report.data}",
        f"  original:  {report.original}",
        f"  LIT image: {report.candidate}",
    ]
    if report.top1_same is not None:
        lines.append(f"top-1 agrees on {report.top1_same}/{report.compared}")
    biggest = "answers differ in shape" if report.max_difference is None else f"{report.max_difference:.3g}"
    lines.append(
        f"equal within {report.tolerance:g} on {report.within}/{report.examples}; the largest difference: {biggest}"
    )
    for name, diff in report.worst:
        lines.append(f"  {name}: {'a different answer' if diff is None else f'{diff:.3g}'}")
    for name, why in list(report.failed.items())[:5]:
        lines.append(f"  {name} failed on {why}")
    lines.append("the answers are the same" if report.same else "the answers differ")
    return "\n".join(lines)
