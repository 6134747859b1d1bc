"""Detection quality for the shapes-detect example, in plain numpy (no torch, no cv2).

- detections(raw): one image's raw YOLO-layout output [4 + C, N] -> detections, exactly as LIT's runtime
  decodes it (lit_runtime.tasks.detect): class = argmax of the class scores, score = that max, keep
  score >= 0.25, (cx, cy, w, h) -> (x1, y1, x2, y2), greedy NMS within each class at IoU 0.45, best
  score first, at most 100 per image.
- map50(predictions, truths): mAP@0.5, the mean over the classes of the average precision at IoU 0.5
  (all-point interpolation, as in VOC 2010+ and COCO).

Boxes are [x1, y1, x2, y2] in pixel-edge coordinates (a box covering pixel columns 3..7 has x1 = 3, x2 = 8),
so a box's area is (x2 - x1) * (y2 - y1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SCORE_THRESHOLD = 0.25
IOU_THRESHOLD = 0.45
MAX_DETECTIONS = 100


def detections(
    raw: Any,
    score_threshold: float = SCORE_THRESHOLD,
    iou_threshold: float = IOU_THRESHOLD,
    max_detections: int = MAX_DETECTIONS,
) -> list[dict[str, Any]]:
    """One image's [4 + C, N] candidates -> [{"box", "score", "class"}], best score first."""
    candidates = np.asarray(raw, np.float32).T  # [N, 4 + C]
    class_scores = candidates[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(candidates)), classes]
    keep = scores >= score_threshold
    cx, cy, w, h = candidates[keep, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores, classes = scores[keep], classes[keep]
    chosen = nms(boxes, scores, classes, iou_threshold)
    boxes, scores, classes = boxes[chosen], scores[chosen], classes[chosen]
    order = np.nonzero(scores >= score_threshold)[0]
    order = order[np.argsort(-scores[order], kind="stable")][:max_detections]
    return [{"box": [float(v) for v in boxes[j]], "score": float(scores[j]), "class": int(classes[j])} for j in order]


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression within each class: the indices kept, best first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    # boxes of different classes never overlap once shifted apart by class
    shift = (classes.astype(np.float32) * (float(np.abs(boxes).max()) * 2 + 1))[:, None]
    b = boxes + shift
    areas = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    order = np.argsort(-scores, kind="stable")
    kept = []
    while len(order):
        i, rest = order[0], order[1:]
        kept.append(i)
        w = (np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0])).clip(0)
        h = (np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1])).clip(0)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(kept, np.int64)


def iou(box: Sequence[float], others: np.ndarray) -> np.ndarray:
    """IoU of one [x1, y1, x2, y2] box with each row of others [M, 4]."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w = (np.minimum(x2, others[:, 2]) - np.maximum(x1, others[:, 0])).clip(0)
    h = (np.minimum(y2, others[:, 3]) - np.maximum(y1, others[:, 1])).clip(0)
    inter = w * h
    union = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    union = union + (others[:, 2] - others[:, 0]).clip(0) * (others[:, 3] - others[:, 1]).clip(0) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision-recall curve with precision made monotone (all-point interpolation)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    changed = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[changed + 1] - r[changed]) * p[changed + 1]))


def map50(
    predictions: Sequence[Sequence[dict[str, Any]]],
    truths: Sequence[Sequence[dict[str, Any]]],
    classes: int = 3,
    iou_threshold: float = 0.5,
) -> float:
    """mAP at IoU 0.5 over classes 0..classes-1.

    predictions: per image, [{"box": [x1, y1, x2, y2], "score": s, "class": c}, ...] (other keys ignored);
    truths: per image, [{"box": [...], "class": c}, ...]. Per class, the detections of all images are taken
    best score first (ties in image, then list order); each is a true positive when its IoU with the
    best-overlapping ground truth of that class in its image is >= iou_threshold and that ground truth is not
    taken yet, else a false positive. Classes without ground truth are left out of the mean (0.0 if none has
    any).
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} images of predictions but {len(truths)} of truths")
    aps = []
    for c in range(classes):
        gt = [
            np.asarray([t["box"] for t in image if int(t["class"]) == c], np.float64).reshape(-1, 4) for image in truths
        ]
        total = sum(len(g) for g in gt)
        if total == 0:
            continue
        found = [
            (float(d["score"]), i, k, d["box"])
            for i, image in enumerate(predictions)
            for k, d in enumerate(image)
            if int(d["class"]) == c
        ]
        found.sort(key=lambda f: (-f[0], f[1], f[2]))
        taken = [np.zeros(len(g), bool) for g in gt]
        hits = np.zeros(len(found))
        for n, (_, i, _, box) in enumerate(found):
            if len(gt[i]) == 0:
                continue
            overlaps = iou(box, gt[i])
            best = int(overlaps.argmax())
            if overlaps[best] >= iou_threshold and not taken[i][best]:
                taken[i][best] = True
                hits[n] = 1.0
        tp = np.cumsum(hits)
        recall = tp / total
        precision = tp / np.arange(1, len(found) + 1)
        aps.append(average_precision(recall, precision))
    return float(np.mean(aps)) if aps else 0.0
