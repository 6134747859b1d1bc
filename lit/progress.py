"""Progress on long work: a live display on a terminal, plain lines everywhere else.

The core takes a `log: Callable[[str], None]` for what it has to say. On a terminal the CLI hands it
`reporter(...)`, a Terminal: its lines scroll above live bars (drawn by rich, imported only then, so
that `lit --help` does not pay for it). The core asks `task(log, ...)` for a handle to advance; with
any other `log` the handle does nothing, so a pipe, a CI log or `-q` gets exactly the lines it
always got. Progress goes to stderr: stdout, and `--json`, never carry it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

Log = Callable[[str], None]

BYTES = "bytes"  # the unit whose amounts are shown as kB, MB, GB


def human(size: float) -> str:
    """A byte count as docker shows one: decimal units, three figures."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} GB"  # (not reached)


def terminal() -> bool:
    """Whether a person watches stderr: a terminal that can draw (not TERM=dumb)."""
    try:
        return sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def reporter(plain: Log) -> Log:
    """The `log` to hand the core: a Terminal when a person watches stderr, else `plain` itself."""
    return Terminal() if terminal() else plain


def live(log: Log) -> bool:
    return isinstance(log, Terminal)


def task(log: Log, description: str, total: float | None = None, unit: str = "") -> Task:
    """A handle on one piece of work of `total` `unit`s (None: a spinner and the time taken)."""
    return log.task(description, total, unit) if isinstance(log, Terminal) else Task()


def say(log: Log, line: str) -> None:
    """A line that is itself progress ("150/450 examples"): said where no live display shows it."""
    if not live(log):
        log(line)


class Task:
    """One piece of work. This one draws nothing: the plain lines the core logs are its progress."""

    def advance(self, amount: float = 1) -> None:
        pass

    def update(
        self, completed: float | None = None, total: float | None = None, description: str | None = None
    ) -> None:
        pass

    def close(self, finished: bool = True) -> None:
        pass

    def __enter__(self) -> Task:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(finished=kind is None)


class _Drawn(Task):
    def __init__(self, terminal: Terminal, task_id: Any) -> None:
        self._terminal, self._id, self._open = terminal, task_id, True

    def advance(self, amount: float = 1) -> None:
        self._terminal.bars.advance(self._id, amount)

    def update(
        self, completed: float | None = None, total: float | None = None, description: str | None = None
    ) -> None:
        self._terminal.bars.update(self._id, completed=completed, total=total, description=description)

    def close(self, finished: bool = True) -> None:
        if self._open:
            self._open = False
            self._terminal.closed(self._id, finished)


class Terminal:
    """A `log` for a person at a terminal: each line printed as it comes, above the bars of the open
    tasks (amount done, rate, time taken and time left). The bars go when the last task closes."""

    def __init__(self, console: Any = None, clock: Callable[[], float] | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, highlight=False, emoji=False, markup=False)
        self.clock = clock
        self._bars: Any = None
        self._open = 0

    def __call__(self, line: str) -> None:
        from rich.text import Text

        self.console.print(Text.from_ansi(line), soft_wrap=True)

    @property
    def bars(self) -> Any:
        if self._bars is None:
            self._bars = _progress(self.console, self.clock)
            self._bars.start()
        return self._bars

    def task(self, description: str, total: float | None, unit: str) -> Task:
        self._open += 1
        return _Drawn(self, self.bars.add_task(description, total=total, unit=unit))

    def closed(self, task_id: Any, finished: bool) -> None:
        bars = self.bars
        if finished:  # shown as done, at what it came to (an estimate of the total may have been off)
            done = bars.tasks[[t.id for t in bars.tasks].index(task_id)]
            total = max(done.completed, done.total or 0) or (1 if done.total is None else 0)
            bars.update(task_id, total=total, completed=total)
        bars.stop_task(task_id)
        self._open -= 1
        if self._open == 0:
            bars.stop()
            self._bars = None


def _progress(console: Any, clock: Callable[[], float] | None) -> Any:
    """rich's Progress with LIT's columns: what, a bar, how much, how fast, time taken, time left."""
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TimeElapsedColumn
    from rich.table import Column
    from rich.text import Text

    def amount(task: Any, value: float | None) -> str:
        if value is None:
            return "?"
        unit = task.fields.get("unit", "")
        return human(value) if unit == BYTES else f"{value:,.0f}"

    class What(ProgressColumn):
        # the one column that gives way on a narrow terminal: its table column wraps (so the table
        # shrinks it first), its text does not (so it is cut, with an ellipsis)
        def render(self, task: Any) -> Text:
            return Text(task.description, no_wrap=True, overflow="ellipsis")

    class Amount(ProgressColumn):
        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit", "")
            if not unit:  # a spinner: the time taken says it all
                return Text("")
            if task.total is None:
                return Text(f"{amount(task, task.completed)} {'' if unit == BYTES else unit}".rstrip())
            percent = f"{100 * task.completed / task.total:3.0f}%" if task.total else "100%"
            tail = "" if unit == BYTES else f" {unit}"
            return Text(f"{percent} {amount(task, task.completed)}/{amount(task, task.total)}{tail}")

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            if not speed or task.fields.get("unit") in ("", "steps", "layers"):  # a rate of steps says little
                return Text("")
            unit = task.fields["unit"]
            shown = f"{human(speed)}/s" if unit == BYTES else f"{speed:,.1f} {unit}/s"
            return Text(shown, style="progress.data.speed")

    class Left(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.finished or task.total is None:
                return Text("")
            left = task.time_remaining
            if left is None:
                return Text("left -:--", style="progress.remaining")
            minutes, seconds = divmod(int(left), 60)
            return Text(f"left {minutes}:{seconds:02d}", style="progress.remaining")

    def fixed() -> Column:
        return Column(no_wrap=True)

    return Progress(
        SpinnerColumn(finished_text="[green]✓", table_column=fixed()),
        # what shrinks (with an ellipsis) on a narrow terminal: the description, never the figures
        What(table_column=Column(ratio=1)),
        BarColumn(bar_width=16, table_column=fixed()),
        Amount(table_column=fixed()),
        Rate(table_column=fixed()),
        TimeElapsedColumn(table_column=fixed()),
        Left(table_column=fixed()),
        console=console,
        get_time=clock,
        redirect_stdout=False,  # stdout is the command's answer (--json): nothing of the display goes there
        transient=False,
    )


# --- docker's own logs, read as progress

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12})$")
LAYER = re.compile(r"^([0-9a-f]{12}): (.*)$")


class _Reader:
    """A tool's log read as progress: its task closes (finished, or not on an error) with the block."""

    task: Task

    def close(self, finished: bool = True) -> None:
        self.task.close(finished)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(finished=kind is None)


class BuildSteps(_Reader):
    """`docker build`'s log (the classic builder's) as steps. Plain, each line is passed on as it
    came. Live, a bar over the Dockerfile's steps, and one line per finished step with the size of
    the layer it made (read with `size_of`, an image's size, cumulative) and whether it was cached;
    the steps' own output is not shown (a failed build says its tail)."""

    def __init__(self, log: Log, description: str, size_of: Callable[[str], int | None]) -> None:
        self.log, self.description, self.size_of = log, description, size_of
        self.task = task(log, description, None, "steps")
        self.step: tuple[int, int, str] | None = None
        self.cached = False
        self.below: int | None = None  # the size of the stage's image before this step

    def __call__(self, line: str) -> None:
        if not live(self.log):
            self.log(line)
            return
        if m := STEP.match(line):
            n, total, instruction = int(m[1]), int(m[2]), m[3]
            self.step, self.cached = (n, total, instruction), False
            self.task.update(completed=n - 1, total=total, description=f"{self.description}: {_cut(instruction, 60)}")
        elif line.strip() == "---> Using cache":
            self.cached = True
        elif (m := STEP_ID.match(line)) and self.step is not None:
            self._finished(m[1])

    def _finished(self, image_id: str) -> None:
        assert self.step is not None
        n, total, instruction = self.step
        size = self.size_of(image_id)
        first = instruction.upper().startswith("FROM ")
        if first or size is None or self.below is None:
            made = "" if size is None else f"  {human(size)}{' (the image it starts from)' if first else ''}"
        else:
            made = f"  {human(size - self.below)}" + ("  cached" if self.cached else "")
        self.below = size
        self.log(f"  step {n}/{total}  {_cut(instruction, 72)}{made}")
        self.task.update(completed=n)
        self.step = None


class PushLayers(_Reader):
    """`docker push`'s log as bytes sent. Plain, each line is passed on as it came. Live, a bar over
    the bytes of the layers the registry lacks (`sizes`: each layer's, by the 12 hex digits docker
    names it with; a layer already there leaves the total), advanced as each layer is pushed."""

    def __init__(self, log: Log, target: str, sizes: dict[str, int]) -> None:
        self.log, self.target, self.sizes = log, target, sizes
        self.by_bytes = bool(sizes)
        self.total = sum(sizes.values()) if self.by_bytes else None
        self.task = task(log, "push", self.total, BYTES if self.by_bytes else "layers")
        self.sent = self.there = 0

    def __call__(self, line: str) -> None:
        if not live(self.log):
            self.log(line)
            return
        m = LAYER.match(line)
        if m is None:
            return
        layer, status = m[1], m[2]
        size = self.sizes.get(layer, 0)
        if status == "Pushed":
            self.sent += 1
            self.task.advance(size if self.by_bytes else 1)
        elif status == "Layer already exists" or status.startswith("Mounted from"):
            self.there += 1
            if self.total is not None:
                self.total -= size
                self.task.update(total=self.total)
        else:
            return
        self.task.update(description=f"push: {self.sent} layers sent, {self.there} already there")


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
