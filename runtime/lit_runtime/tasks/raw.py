"""raw: every output, per example, in its own dtype (ints stay ints). A model with one output
answers its value; a model with several answers {output name: value}."""

from __future__ import annotations

from typing import Any

from ..engine import Port
from ..errors import ModelError


class Raw:
    name = "raw"

    def fits(self, outputs: tuple[Port, ...], conf: Any) -> str | None:
        return None

    def answers(self, outputs: dict[str, Any], ctx: Any) -> list[Any]:
        rows = per_example(outputs)
        if len(outputs) == 1:
            (only,) = rows.values()
            return [v.tolist() for v in only]
        count = len(next(iter(rows.values())))
        return [{name: rows[name][i].tolist() for name in rows} for i in range(count)]

    def arrays(self, outputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        per_example(outputs)
        return outputs


def per_example(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs, each with the same batch dimension first; an output without one cannot be
    split per example, which is an error rather than a guess."""
    sizes = {name: (len(v) if getattr(v, "ndim", 0) else None) for name, v in outputs.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        shapes = {name: list(getattr(v, "shape", ())) for name, v in outputs.items()}
        raise ModelError(
            f"the model's outputs {shapes} do not share a batch dimension, so LIT cannot answer per example; "
            "give them one, or answer in a service.py postprocess hook"
        )
    return outputs


TASK = Raw()
