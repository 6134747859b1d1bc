"""The measures `lit eval` reports, in plain Python (the CLI never imports numpy):
- classify: whether the top answer, or one of the top k, is the expected label;
- embed: same-label precision@k of each vector's nearest neighbours (cosine; ties to the lower index);
- detect: mAP at IoU 0.5 (per class, all-point interpolated average precision; VOC 2010+ and COCO);
- raw: mean absolute error against the expected tensor;
and the bootstrap interval of a difference between two models on the same examples."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

BOOTSTRAP = 1000  # resamples: a 95% interval's ends move by well under its width between seeds


def matches(item: dict[str, Any], expected: Any) -> bool:
    """One classify or detect answer item against an expected label: an int is a class index, a
    string a label name (a digit string also matches the index, as a CSV holds it). Model Server's
    answers name the label under "class" and give no index: there, an int matches the name it spells."""
    index = item.get("index", item.get("class"))
    name = item.get("label", item.get("class"))
    if isinstance(expected, int):
        return index == expected or (not isinstance(index, int) and str(name) == str(expected))
    text = str(expected)
    return str(name) == text or (text.isdigit() and index == int(text))


def top1(answer: Sequence[dict[str, Any]], expected: Any) -> bool:
    return bool(answer) and matches(answer[0], expected)


def in_top_k(answer: Sequence[dict[str, Any]], expected: Any) -> bool:
    return any(matches(item, expected) for item in answer)


def precisions_at_k(vectors: Sequence[Sequence[float]], labels: Sequence[Any], k: int) -> list[float]:
    """Each row's fraction of its k most cosine-similar other rows that share its label."""
    n = len(vectors)
    if not 0 < k < n:
        raise ValueError(f"precision@k needs 1 <= k < {n} examples, got k = {k}")
    units = []
    for v in vectors:
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        units.append([x / norm for x in v])
    out = []
    for i, u in enumerate(units):
        # rounded, so that equal vectors tie whatever the order of the sum: ties go to the lower index
        sims = sorted((-round(sum(a * b for a, b in zip(u, w)), 12), j) for j, w in enumerate(units) if j != i)[:k]
        out.append(sum(labels[j] == labels[i] for _, j in sims) / k)
    return out


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0) + max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0) - inter
    return inter / union if union > 0 else 0.0


def average_precision(recall: list[float], precision: list[float]) -> float:
    r = [0.0, *recall, 1.0]
    p = [0.0, *precision, 0.0]
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    return sum((r[i + 1] - r[i]) * p[i + 1] for i in range(len(r) - 1) if r[i + 1] != r[i])


def map50(
    predictions: Sequence[Sequence[dict[str, Any]]], truths: Sequence[Sequence[dict[str, Any]]], iou_min: float = 0.5
) -> float:
    """mAP at IoU `iou_min` over the classes that have ground truth. Per class, all images'
    detections best score first (ties by image, then order); one is a true positive when its best
    overlap with that class's truths in its image reaches `iou_min` and that truth is not yet taken."""
    classes = sorted({_cls(t) for image in truths for t in image}, key=str)
    aps = []
    for c in classes:
        gt = [[t["box"] for t in image if _cls(t) == c] for image in truths]
        total = sum(len(g) for g in gt)
        found = sorted(
            (
                (-float(d["score"]), i, k, d["box"])
                for i, image in enumerate(predictions)
                for k, d in enumerate(image)
                if _cls(d) == c
            ),
        )
        taken = [[False] * len(g) for g in gt]
        tp, recall, precision = 0, [], []
        for n, (_, i, _, box) in enumerate(found, 1):
            if gt[i]:
                overlaps = [iou(box, g) for g in gt[i]]
                best = max(range(len(overlaps)), key=overlaps.__getitem__)
                if overlaps[best] >= iou_min and not taken[i][best]:
                    taken[i][best] = True
                    tp += 1
            recall.append(tp / total)
            precision.append(tp / n)
        aps.append(average_precision(recall, precision))
    return sum(aps) / len(aps) if aps else 0.0


def _cls(item: dict[str, Any]) -> Any:
    return item.get("class", item.get("label"))


def flatten(value: Any) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in flatten(v)]
    return [float(value)]


def mean_absolute_error(got: Sequence[float], want: Sequence[float]) -> float:
    if len(got) != len(want):
        raise ValueError(f"the answer has {len(got)} numbers, the expected tensor {len(want)}")
    return sum(abs(a - b) for a, b in zip(got, want)) / max(len(want), 1)


def bootstrap(
    statistic: Callable[[list[int]], float], n: int, resamples: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float]:
    """The 95% percentile interval of `statistic` over resamples (with replacement) of the n
    example indices, paired: both models are scored on the same resampled examples."""
    rng = random.Random(seed)
    values = sorted(statistic([rng.randrange(n) for _ in range(n)]) for _ in range(resamples))
    return values[int(0.025 * resamples)], values[min(resamples - 1, int(0.975 * resamples))]
