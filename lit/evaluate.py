"""`lit eval`: held-out data through the real image (under the RIE) or the deployed function, scored
for the task the function answers, and, with a second model, the difference with its interval."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import eval_metrics as m
from . import progress
from .bench import percentile
from .errors import LitError
from .eval_data import Dataset, Example
from .local import parse_payload

Send = Callable[[bytes], tuple[int, bytes]]  # one event in, (status, answer bytes) out


@dataclass
class Answers:
    """One model's answers to every example (None where it failed), and each request's latency."""

    target: str
    predictions: list[Any] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # example name -> the error it answered
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class Score:
    target: str
    task: str
    metric: str  # the headline measure's name
    value: float
    examples: int
    failed: int
    latency_p50_ms: float
    latency_p99_ms: float
    details: dict[str, Any] = field(default_factory=dict)  # top-k accuracy, the confusion matrix, k


@dataclass
class Comparison:
    against: str
    delta: float  # the candidate's measure minus the other's
    interval: tuple[float, float]  # its bootstrap 95% interval
    differ: float  # the share of examples whose answers differ
    other: Score


@dataclass
class Report:
    data: str
    candidate: Score
    comparison: Comparison | None = None


def collect(
    target: str, data: Dataset, send: Send, batch: int = 1, log: Callable[[str], None] = lambda _: None
) -> Answers:
    """Send the examples (`batch` at a time where the input kind allows), after one warm-up request,
    and keep the answers and each request's latency."""
    out = Answers(target)
    groups = _groups(data.examples, batch)
    with progress.task(log, f"{target}: warming up", len(data.examples), "examples") as task:
        send(json.dumps(_event(groups[0])).encode())  # a cold start is not an answer's latency: warm it first
        task.update(description=target)
        for done, group in enumerate(groups, 1):
            _send(out, group, send)
            task.advance(len(group))
            if done % 50 == 0 or done == len(groups):
                progress.say(log, f"{target}: {min(done * batch, len(data.examples))}/{len(data.examples)} examples")
    return out


def _send(out: Answers, group: list[Example], send: Send) -> None:
    """One request of `group`'s examples; its answers (or the error, once per example) and latency into `out`."""
    t0 = time.perf_counter()
    status, raw = send(json.dumps(_event(group)).encode())
    out.latencies_ms.append((time.perf_counter() - t0) * 1000)
    answer = parse_payload(raw)
    preds = answer.get("predictions") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(preds, list) or len(preds) != len(group):
        why = answer.get("errorMessage", str(answer)[:200]) if isinstance(answer, dict) else str(answer)[:200]
        for ex in group:
            out.errors[ex.name] = f"status {status}: {why}"
        out.predictions += [None] * len(group)
    else:
        out.predictions += preds


def _groups(examples: list[Example], batch: int) -> list[list[Example]]:
    plural = {"image": "images", "text": "texts"}
    if batch <= 1 or not all(len(ex.event) == 1 and next(iter(ex.event)) in plural for ex in examples):
        return [[ex] for ex in examples]
    return [examples[i : i + batch] for i in range(0, len(examples), batch)]


def _event(group: list[Example]) -> dict[str, Any]:
    if len(group) == 1:
        return group[0].event
    key = next(iter(group[0].event))
    return {f"{key}s": [ex.event[key] for ex in group]}


def task_of(data: Dataset, answers: Answers) -> str:
    """What the function answers, from its answers: top-k items, vectors, detections or tensors."""
    first = next((p for p in answers.predictions if p is not None), None)
    if first is None:
        raise LitError(
            f"{answers.target} answered none of the {len(data.examples)} examples: {next(iter(answers.errors.values()), '')}",
            "check the data's input kind against the function's (lit schema DIR)",
        )
    if data.kind == "tensor":
        return "raw"
    if isinstance(first, list) and first and all(isinstance(x, (int, float)) for x in first):
        return "embed"
    if isinstance(first, list) and all(isinstance(x, dict) and "box" in x for x in first):
        return "detect"
    if isinstance(first, list) and all(isinstance(x, dict) and "probability" in x for x in first):
        return "classify"
    raise LitError(
        f"LIT cannot score {answers.target}'s answers against labels: {json.dumps(first)[:200]}",
        "eval scores classify, embed and detect answers against labels, and any answer against NAME.expected.npy",
    )


def score(data: Dataset, answers: Answers, k: int = 5) -> tuple[Score, list[float] | None]:
    """The measure for the task, and its per-example values where it is a mean of them (for the
    bootstrap; mAP is not, and is computed again on each resample)."""
    task = task_of(data, answers)
    if data.kind == "boxes" and task != "detect":
        raise LitError(f"the data holds boxes but {answers.target} answers {task}", "evaluate a detector on box data")
    expected = [ex.expected for ex in data.examples]
    details: dict[str, Any] = {}
    per: list[float] | None
    if task == "classify":
        per = [float(p is not None and m.top1(p, e)) for p, e in zip(answers.predictions, expected)]
        topk = [float(p is not None and m.in_top_k(p, e)) for p, e in zip(answers.predictions, expected)]
        details = {"top_k_accuracy": _mean(topk), "k": max((len(p) for p in answers.predictions if p), default=0)}
        details["confusion"] = confusion(answers.predictions, expected)
        metric, value = "accuracy", _mean(per)
    elif task == "embed":
        if any(p is None for p in answers.predictions):
            raise LitError(f"{answers.target} failed {len(answers.errors)} examples", "precision@k needs every vector")
        per = m.precisions_at_k(answers.predictions, expected, k)
        metric, value, details = f"precision@{k}", _mean(per), {"k": k}
    elif task == "detect":
        per = None
        metric, value = "mAP@0.5", m.map50([p or [] for p in answers.predictions], expected)
    else:
        per = [_mae(p, e) for p, e in zip(answers.predictions, expected)]
        metric, value = "mean absolute error", _mean([v for v in per if v == v])
    result = Score(
        answers.target,
        task,
        metric,
        round(value, 6),
        len(data.examples),
        len(answers.errors),
        round(percentile(answers.latencies_ms, 0.5), 2),
        round(percentile(answers.latencies_ms, 0.99), 2),
        details,
    )
    return result, per


def confusion(predictions: list[Any], expected: list[Any]) -> dict[str, dict[str, int]]:
    """expected label -> answered top label -> count ("(failed)" where it answered an error)."""
    table: dict[str, dict[str, int]] = {}
    for p, e in zip(predictions, expected):
        top = p[0] if p else {}
        name, index = top.get("label", top.get("class")), top.get("index", top.get("class"))
        got = "(failed)" if not p else str(name if not isinstance(e, int) or not isinstance(index, int) else index)
        row = table.setdefault(str(e), {})
        row[got] = row.get(got, 0) + 1
    return table


def compare(data: Dataset, a: Answers, b: Answers, k: int = 5) -> tuple[Score, Comparison]:
    """The candidate `a` against `b` on the same examples: the difference of their measures, its
    paired bootstrap interval, and how often their answers differ."""
    score_a, per_a = score(data, a, k)
    score_b, per_b = score(data, b, k)
    if score_a.task != score_b.task:
        raise LitError(f"{a.target} answers {score_a.task}, {b.target} {score_b.task}", "compare models of one task")
    n = len(data.examples)
    expected = [ex.expected for ex in data.examples]
    if per_a is not None and per_b is not None:
        pa, pb = per_a, per_b
        interval = m.bootstrap(lambda idx: sum(pa[i] - pb[i] for i in idx) / len(idx), n)
    else:
        interval = m.bootstrap(
            lambda idx: (
                m.map50([a.predictions[i] or [] for i in idx], [expected[i] for i in idx])
                - m.map50([b.predictions[i] or [] for i in idx], [expected[i] for i in idx])
            ),
            n,
            resamples=200,
        )
    differ = sum(_differ(score_a.task, x, y) for x, y in zip(a.predictions, b.predictions)) / n
    delta = round(score_a.value - score_b.value, 6)
    return score_a, Comparison(
        b.target, delta, (round(interval[0], 6), round(interval[1], 6)), round(differ, 4), score_b
    )


def _differ(task: str, x: Any, y: Any) -> bool:
    if x is None or y is None:
        return x is not y
    if task == "classify":
        return bool(x[0]["label"] != y[0]["label"])
    if task == "detect":
        return sorted((d.get("class"), tuple(round(v) for v in d["box"])) for d in x) != sorted(
            (d.get("class"), tuple(round(v) for v in d["box"])) for d in y
        )
    fx, fy = m.flatten(x), m.flatten(y)
    return len(fx) != len(fy) or any(abs(p - q) > 1e-5 for p, q in zip(fx, fy))


def _mae(prediction: Any, expected: Any) -> float:
    if prediction is None:
        return float("nan")
    got = m.flatten(list(prediction.values()) if isinstance(prediction, dict) else prediction)
    try:
        return m.mean_absolute_error(got, expected.values)
    except ValueError as exc:
        raise LitError(
            f"{exc} (shape {list(expected.shape)})", "the expected tensor must be the whole answer"
        ) from None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def render(report: Report) -> str:
    c = report.candidate
    lines = [
        f"{c.target} on {report.data}: {c.examples} examples, task {c.task}",
        f"  {c.metric}: {c.value:.4f}" + (f"   ({c.failed} answered an error)" if c.failed else ""),
    ]
    if "top_k_accuracy" in c.details:
        lines.append(f"  top-{c.details['k']} accuracy: {c.details['top_k_accuracy']:.4f}")
    lines.append(f"  latency per request: p50 {c.latency_p50_ms:.1f} ms, p99 {c.latency_p99_ms:.1f} ms")
    if "confusion" in c.details:
        lines += ["  confusion (rows: expected, columns: answered):", *_table(c.details["confusion"])]
    if (cmp := report.comparison) is not None:
        o = cmp.other
        lo, hi = cmp.interval
        verdict = "better" if lo > 0 else "worse" if hi < 0 else "no difference the data can show"
        if c.task == "raw":  # an error: lower is better
            verdict = "worse" if lo > 0 else "better" if hi < 0 else "no difference the data can show"
        lines += [
            f"against {o.target}: {o.metric} {o.value:.4f} (p50 {o.latency_p50_ms:.1f} ms, p99 {o.latency_p99_ms:.1f} ms)",
            f"  difference: {cmp.delta:+.4f}, 95% interval [{lo:+.4f}, {hi:+.4f}]: {verdict}",
            f"  answers differ on {cmp.differ:.1%} of the examples",
        ]
    return "\n".join(lines)


def _table(confusion: dict[str, dict[str, int]]) -> list[str]:
    labels = sorted({*confusion, *(k for row in confusion.values() for k in row)}, key=lambda s: (len(s), s))
    width = max(4, *(len(s) for s in labels)) + 1
    head = "    " + " " * width + "".join(f"{s:>{width}}" for s in labels)
    rows = [
        "    " + f"{e:>{width}}" + "".join(f"{confusion.get(e, {}).get(s, 0) or '.':>{width}}" for s in labels)
        for e in labels
        if e in confusion
    ]
    return [head, *rows]


def run_local(
    docker: Any, project: Any, image: str | None, data: Dataset, batch: int, log: Callable[[str], None]
) -> Answers:
    """The data through an image under the RIE (`lit run`'s sandbox and memory), then stopped.
    Like `lit bench`, it takes the project's local endpoint while it runs."""
    from . import local
    from .bench import free_port

    running = local.start(docker, project, image, free_port())
    try:
        return collect(
            running.image,
            data,
            lambda body: local.post(running.url, body, project.function.timeout + 5)[:2],
            batch,
            log,
        )
    finally:
        local.stop(docker, project)


def run_remote(lam: Any, name: str, qualifier: str, data: Dataset, batch: int, log: Callable[[str], None]) -> Answers:
    """The data through the deployed function's alias or version (Invoke, RequestResponse)."""

    def send(body: bytes) -> tuple[int, bytes]:
        status, payload, function_error = lam.invoke(name, qualifier, body)
        return (500 if function_error else status), payload

    return collect(f"{name}:{qualifier}", data, send, batch, log)
