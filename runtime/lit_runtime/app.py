"""The runtime proper: loads everything once at init, then turns each event into an answer."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import events, service, settings, threads
from . import model as model_loader
from .errors import InputError

log = logging.getLogger("lit_runtime")


@dataclass
class Context:
    """What hooks receive: settings, the loaded model, and a dict for the user's own state."""

    settings: settings.Settings
    model: Any = None
    cpus: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""

    @property
    def model_dir(self) -> Any:
        return self.settings.model_dir


class App:
    def __init__(self, ctx: Context, hooks: dict[str, Callable[..., Any]]) -> None:
        self.ctx = ctx
        self.hooks = hooks

    @classmethod
    def start(cls, root: Any = None) -> App:
        t0 = time.perf_counter()
        p0 = _process_start()
        cpus = threads.configure()
        conf = settings.load(root) if root is not None else settings.load()
        hooks = service.resolve(conf.service, conf.input_kind)
        t1 = time.perf_counter()
        net = model_loader.load(conf.model_dir, conf.epoch) if conf.model_format == "mxnet" else None
        ctx = Context(settings=conf, model=net, cpus=cpus)
        replaced = hooks["initialize"](ctx)
        if replaced is not None:
            ctx.model = replaced
        t2 = time.perf_counter()
        app = cls(ctx, hooks)
        app.warm_up()
        t3 = time.perf_counter()
        _emit(
            {
                "event": "init",
                "function": conf.name,
                "cpus": cpus,
                "ms": {
                    "imports": _ms(p0, t0),
                    "setup": _ms(t0, t1),
                    "model_load": _ms(t1, t2),
                    "warm_up": _ms(t2, t3),
                    "total": _ms(p0, t3),
                },
            }
        )
        return app

    def warm_up(self) -> None:
        """One forward pass at init, so the first request pays no lazy allocation."""
        conf = self.ctx.settings
        if conf.input_kind != "image" or self.ctx.model is None:
            return
        import numpy as np

        channels = 1 if conf.image.color == "gray" else 3
        w, h = conf.image.size
        self.hooks["inference"](np.zeros((1, channels, h, w), np.float32), self.ctx)

    def handle(self, event: Any, lambda_context: Any = None) -> Any:
        self.ctx.request_id = getattr(lambda_context, "aws_request_id", "") or ""
        trigger = events.detect(event)
        timings: dict[str, float] = {}
        batch = 0
        status = 200
        try:
            t0 = time.perf_counter()
            request = events.parse(event, self.ctx.settings.input_kind)
            batch = len(request.inputs)
            t1 = time.perf_counter()
            data = self.hooks["preprocess"](request.inputs, self.ctx)
            t2 = time.perf_counter()
            outputs = self.hooks["inference"](data, self.ctx)
            t3 = time.perf_counter()
            results = self.hooks["postprocess"](outputs, self.ctx)
            t4 = time.perf_counter()
            timings = {
                "decode": _ms(t0, t1),
                "preprocess": _ms(t1, t2),
                "inference": _ms(t2, t3),
                "postprocess": _ms(t3, t4),
            }
            payload: Any = {"predictions": results}
        except InputError as exc:
            status = exc.status
            if not events.is_http(trigger):
                self._log(trigger, batch, timings, status, str(exc))
                raise
            payload = {"error": {"status": status, "message": str(exc)}}
        except Exception as exc:
            status = 500
            traceback.print_exc(file=sys.stderr)
            self._log(trigger, batch, timings, status, f"{type(exc).__name__}: {exc}")
            if not events.is_http(trigger):
                raise
            return events.http_answer(
                trigger, 500, {"error": {"status": 500, "message": "internal error; see the function's logs"}}
            )
        self._log(trigger, batch, timings, status, None)
        return events.http_answer(trigger, status, payload) if events.is_http(trigger) else payload

    def _log(self, trigger: str, batch: int, timings: dict[str, float], status: int, error: str | None) -> None:
        line: dict[str, Any] = {
            "event": "request",
            "request_id": self.ctx.request_id,
            "trigger": trigger,
            "batch_size": batch,
            "status": status,
            "ms": timings,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if error:
            line["error"] = error
        _emit(line)


def _process_start() -> float:
    """When this process started, on the perf_counter clock (Linux: /proc/self/stat field 22)."""
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        hz = os.sysconf("SC_CLK_TCK")
        return time.perf_counter() - (uptime - ticks / hz)
    except (OSError, ValueError, IndexError):
        return time.perf_counter()


def _ms(a: float, b: float) -> float:
    return round((b - a) * 1000, 3)


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
