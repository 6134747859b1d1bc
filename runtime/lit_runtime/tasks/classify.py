"""classify: top-k classes with their labels, from one [batch, classes] output (softmax applied
when the output is not already a distribution)."""

from __future__ import annotations

from typing import Any

from ..engine import Port


class Classify:
    name = "classify"

    def fits(self, outputs: tuple[Port, ...], conf: Any) -> str | None:
        if len(outputs) != 1:
            return f"classify reads one [batch, classes] output, and the graph has {len(outputs)}"
        shape = outputs[0].shape
        if shape is not None and len(shape) != 2:
            return f"classify reads a [batch, classes] output, and {outputs[0].spec()} has {len(shape)} dimensions"
        classes = shape[1] if shape is not None else None
        if conf.labels and isinstance(classes, int) and classes != len(conf.labels):
            return (
                f"the labels file has {len(conf.labels)} labels but the model outputs {classes} classes: "
                "fix the labels file (one label per line, in the model's class order)"
            )
        return None

    def probabilities(self, outputs: dict[str, Any]) -> Any:
        (scores,) = outputs.values()
        scores = scores.reshape(len(scores), -1)
        return scores if is_distribution(scores) else softmax(scores)

    def answers(self, outputs: dict[str, Any], ctx: Any) -> list[Any]:
        import numpy as np

        probs = self.probabilities(outputs)
        labels = ctx.settings.labels
        k = min(ctx.settings.top_k, probs.shape[-1])
        results = []
        for row in probs:
            top = np.argsort(-row)[:k]
            results.append(
                [
                    {
                        "label": labels[i] if i < len(labels) else str(int(i)),
                        "index": int(i),
                        "probability": float(row[i]),
                    }
                    for i in top
                ]
            )
        return results

    def arrays(self, outputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"probabilities": self.probabilities(outputs)}


def softmax(x: Any) -> Any:
    import numpy as np

    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def is_distribution(x: Any) -> bool:
    """Already probabilities (a softmax output layer)? np.allclose is slow for a per-request check."""
    import numpy as np

    return bool(x.ndim >= 1 and x.min() >= 0 and float(np.abs(x.sum(axis=-1) - 1.0).max()) < 1e-3)


TASK = Classify()
