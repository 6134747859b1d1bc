"""detect: boxes, scores and class labels per image, above [detect] score_threshold, with boxes in
the caller's image pixels (x1, y1, x2, y2).

Two layouts, as exporters write them:
- post-NMS named outputs: boxes [batch, N, 4] (x1, y1, x2, y2 in the model input's pixels),
  scores [batch, N] and classes (or labels) [batch, N];
- the raw single tensor of YOLO-family exports, [batch, 4 + C, N]: per candidate cx, cy, w, h in
  the model input's pixels, then one score per class. LIT does the non-maximum suppression.
"""

from __future__ import annotations

from typing import Any

from ..engine import Port
from ..errors import InputError, ModelError


def _find(outputs: tuple[Port, ...], *hints: str) -> Port | None:
    return next((p for p in outputs if any(h in p.name.lower() for h in hints)), None)


def named_layout(outputs: tuple[Port, ...]) -> tuple[Port, Port, Port] | None:
    boxes, scores = _find(outputs, "box"), _find(outputs, "score", "conf")
    classes = _find(outputs, "class", "label", "categor")
    if boxes is None or scores is None or classes is None:
        return None
    return boxes, scores, classes


class Detect:
    name = "detect"

    def fits(self, outputs: tuple[Port, ...], conf: Any) -> str | None:
        trio = named_layout(outputs)
        if trio is not None:
            ranks = [None if p.shape is None else len(p.shape) for p in trio]
            if ranks[0] not in (None, 3) or ranks[1] not in (None, 2) or ranks[2] not in (None, 2):
                return "detect reads boxes [batch, N, 4], scores [batch, N] and classes [batch, N]"
            return None
        if len(outputs) == 1:
            shape = outputs[0].shape
            if shape is None:
                return None
            if len(shape) == 3 and (shape[1] is None or shape[1] >= 5):
                classes = None if shape[1] is None else shape[1] - 4
                if conf.labels and classes is not None and classes != len(conf.labels):
                    return f"the labels file has {len(conf.labels)} labels but the model scores {classes} classes"
                return None
        return (
            "detect reads named outputs boxes [batch, N, 4], scores [batch, N] and classes [batch, N] "
            "(post-NMS), or one [batch, 4 + classes, N] output (YOLO-style, before NMS)"
        )

    def detections(self, outputs: dict[str, Any], ctx: Any) -> list[list[dict[str, Any]]]:
        import numpy as np

        from . import ports

        found = ports(outputs)
        if (why := self.fits(found, ctx.settings)) is not None:
            raise ModelError(f"the model's outputs do not fit task detect: {why}")
        opts = ctx.settings.detect
        trio = named_layout(found)
        if trio is not None:
            boxes, scores, classes = (np.asarray(outputs[p.name]) for p in trio)
            per_image = [(boxes[i], scores[i], classes[i]) for i in range(len(boxes))]
        else:
            (raw,) = outputs.values()
            per_image = [yolo(np.asarray(raw[i], np.float32), opts) for i in range(len(raw))]
        scales = _scales(ctx, len(per_image))
        labels = ctx.settings.labels
        answers = []
        for (boxes, scores, classes), (sx, sy) in zip(per_image, scales):
            keep = np.nonzero(scores >= opts.score_threshold)[0]
            keep = keep[np.argsort(-scores[keep], kind="stable")][: opts.max_detections]
            found_here = []
            for j in keep:
                x1, y1, x2, y2 = (float(v) for v in boxes[j])
                index = int(classes[j])
                found_here.append(
                    {
                        "box": [x1 * sx, y1 * sy, x2 * sx, y2 * sy],
                        "score": float(scores[j]),
                        "class": index,
                        "label": labels[index] if 0 <= index < len(labels) else str(index),
                    }
                )
            answers.append(found_here)
        return answers

    def answers(self, outputs: dict[str, Any], ctx: Any) -> list[Any]:
        return self.detections(outputs, ctx)

    def arrays(self, outputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        raise InputError(
            "detections have a different count per image and have no .npy form; ask for JSON (the default)", 406
        )


def yolo(raw: Any, opts: Any) -> tuple[Any, Any, Any]:
    """One image's [4 + C, N] candidates -> (boxes x1y1x2y2, scores, classes) after per-class NMS."""
    import numpy as np

    candidates = raw.T  # [N, 4 + C]
    class_scores = candidates[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(candidates)), classes]
    keep = scores >= opts.score_threshold
    cx, cy, w, h = candidates[keep, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores, classes = scores[keep], classes[keep]
    chosen = nms(boxes, scores, classes, opts.iou_threshold)
    return boxes[chosen], scores[chosen], classes[chosen]


def nms(boxes: Any, scores: Any, classes: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression within each class: the indices kept, best first."""
    import numpy as np

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


def _scales(ctx: Any, count: int) -> list[tuple[float, float]]:
    """Per image, from the model input's pixels to the caller's: the image sizes preprocessing saw."""
    sizes = getattr(ctx, "sizes", None) or []
    if ctx.settings.input_kind != "image" or len(sizes) != count:
        return [(1.0, 1.0)] * count
    width, height = ctx.settings.image.size
    return [(w / width, h / height) for w, h in sizes]


TASK = Detect()
