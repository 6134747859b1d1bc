"""What an answer is. Each task turns a forward pass's named outputs into one answer per example
(JSON), or into whole-batch arrays (for `.npy` answers), and says whether a graph's outputs fit it.

The tasks: classify (top-k labels), embed (one vector per input), detect (boxes, scores, labels),
raw (every output by name). lit.toml's [model] task names one; without it the task is chosen from
the graph's outputs (`choose`): one [batch, classes] output is classify, anything else is raw,
never a silent softmax. A new task is one module with a TASK plus its line in TASKS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine import Port
from ..errors import ModelError
from . import classify, detect, embed, raw

log = logging.getLogger("lit_runtime")


class Task(Protocol):
    name: str

    def fits(self, outputs: tuple[Port, ...], conf: Any) -> str | None:
        """None when the outputs fit the task, else what the task needs that they lack."""
        ...

    def answers(self, outputs: dict[str, Any], ctx: Any) -> list[Any]:
        """One JSON-ready answer per example."""
        ...

    def arrays(self, outputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        """The answer for the whole batch as named arrays (an `.npy`/`.npz` answer)."""
        ...


TASKS: dict[str, Task] = {t.TASK.name: t.TASK for t in (classify, embed, detect, raw)}


@dataclass(frozen=True)
class Choice:
    task: Task
    reason: str


def describe(outputs: tuple[Port, ...]) -> str:
    return ", ".join(p.spec() for p in outputs) or "none"


def choose(conf: Any, outputs: tuple[Port, ...]) -> Choice | None:
    """The task for these outputs: lit.toml's, checked against them, or one chosen from them.
    None when the outputs' ranks are not known yet (decided on the first forward pass)."""
    if conf.task is not None:
        task = TASKS[conf.task]
        if (why := task.fits(outputs, conf)) is not None:
            raise ModelError(
                f'[model] task = "{conf.task}" does not fit this model: {why}. The graph\'s outputs: '
                f"{describe(outputs)}. Set the task that fits (or drop the key and LIT chooses from the graph)"
            )
        return Choice(task, "set in lit.toml")
    if any(p.shape is None for p in outputs):
        return None
    if len(outputs) == 1 and len(outputs[0].shape or ()) == 2:
        if conf.input_kind != "tensor" or conf.labels:
            if (why := classify.TASK.fits(outputs, conf)) is not None:
                raise ModelError(why)
            return Choice(classify.TASK, f"one output {outputs[0].spec()}: a score per class")
        return Choice(
            raw.TASK,
            f"one output {outputs[0].spec()} of a tensor model without labels: answered as computed "
            '(set [model] labels, or task = "classify", for top-k classes)',
        )
    if len(outputs) == 1:
        why = "not one [batch, classes] output"
    else:
        why = f"{len(outputs)} outputs"
    return Choice(raw.TASK, f"{why} ({describe(outputs)}): every output is answered by name")


def named(result: Any, outputs: tuple[Port, ...]) -> dict[str, Any]:
    """What an inference hook returned, as {output name: array}: the engine's dict as it is; an
    array, or a list of arrays, as the graph's outputs in order (a service.py hook's own model)."""
    import numpy as np

    def array(x: Any) -> Any:
        return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)

    if isinstance(result, dict):
        return {str(k): array(v) for k, v in result.items()}
    values = list(result) if isinstance(result, (list, tuple)) else [result]
    names = [p.name for p in outputs]
    names += [f"output{i}" for i in range(len(names), len(values))]
    return {name: array(v) for name, v in zip(names, values)}


def ports(outputs: dict[str, Any]) -> tuple[Port, ...]:
    """Ports for real output arrays (their shapes as computed, batch dimension left dynamic)."""
    return tuple(Port(k, str(v.dtype), (None, *v.shape[1:])) for k, v in outputs.items())


def current(ctx: Any, outputs: dict[str, Any]) -> Task:
    """The function's task: chosen at init, or on the first forward pass when the graph did not
    declare its outputs' shapes (an MXNet tensor model without input_shape, say)."""
    if ctx.task is None:
        ctx.task = choose(ctx.settings, ports(outputs))
        log.info("task %s: %s", ctx.task.task.name, ctx.task.reason)
    task: Task = ctx.task.task
    return task
