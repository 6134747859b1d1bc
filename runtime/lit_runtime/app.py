"""The runtime proper: loads everything once at init, then turns each event into an answer."""

from __future__ import annotations

import dataclasses
import gc
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

from . import threads

# Thread pools are sized before anything loads numpy: its OpenBLAS starts one thread per host core
# when it is loaded, and at a fraction of a vCPU that start alone costs about 60 ms of init (1,024 MB).
threads.configure()

from . import answers, defaults, engine, events, metrics, service, settings, tasks  # noqa: E402
from .errors import InputError  # noqa: E402

log = logging.getLogger("lit_runtime")


@dataclass
class Context:
    """What hooks receive: settings, the loaded model, and a dict for the user's own state."""

    settings: settings.Settings
    model: Any = None
    cpus: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    task: tasks.Choice | None = None  # what an answer is; None until the outputs' shapes are known
    batch: Any = None  # the preprocessed batch being answered (the attention mask that embed pools over)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # its images' (width, height), for detect

    @property
    def model_dir(self) -> Any:
        return self.settings.model_dir


class App:
    def __init__(self, ctx: Context, hooks: dict[str, Callable[..., Any]]) -> None:
        self.ctx = ctx
        self.hooks = hooks
        self.s3: Any = None  # see _s3()
        self.numbers = 0  # how many numbers the last forward pass answered (see answers.check_direct)

    @classmethod
    def start(cls, root: Any = None, config: Any = None) -> App:
        """The function, initialized from the task root (default: LAMBDA_TASK_ROOT) and the
        configuration `lit build` wrote there (or the one at `config`)."""
        t0 = time.perf_counter()
        p0 = _process_start()
        cpus = threads.configure()
        conf = settings.load(settings.TASK_ROOT if root is None else root, config)
        if conf.engine == "mxnet":
            from . import fastmx

            fastmx.install()  # before anything (service.py included) imports mxnet
        # OpenCV's own ceiling, for formats whose header imagesize.py does not read
        os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(conf.image.max_pixels))
        if conf.adapter is not None:
            return cls._start_adapter(conf, cpus, p0, t0)
        hooks = service.resolve(conf.service, conf.input_kind)
        t1 = time.perf_counter()
        if conf.model_url and conf.model_sha256:
            if os.environ.get("LIT_CHECK_OFFLINE"):
                # `lit build`'s check has no credentials or network: config and hooks only.
                return cls(Context(settings=conf, cpus=cpus), hooks)
            from . import fetch

            conf = dataclasses.replace(conf, model_dir=fetch.fetch(conf.model_url, conf.model_sha256))
        ctx = Context(settings=conf, model=load_model(conf, cpus), cpus=cpus)
        if conf.input_kind == "text":
            from . import text

            ctx.state["tokenizer"] = text.load(conf)
        replaced = hooks["initialize"](ctx)
        if replaced is not None:
            ctx.model = replaced
        t2 = time.perf_counter()
        app = cls(ctx, hooks)
        warm = app.warm_up()
        declared = defaults.output_ports(ctx)
        known = bool(declared) and all(p.shape is not None for p in declared)
        # the graph's own declaration where it has one (symbolic dimensions stay symbolic), else the warm-up's
        ctx.task = tasks.choose(conf, declared if known or warm is None else tasks.ports(tasks.named(warm, declared)))
        # Everything made so far (MXNet's ~5,000 operator functions, the model) lives as long as
        # the process: keep it out of the collector's scans, which otherwise land on requests.
        gc.collect()
        gc.freeze()
        t3 = time.perf_counter()
        _emit(
            {
                "event": "init",
                "function": conf.name,
                "cpus": cpus,
                "imports_ms": _ms(p0, t0),
                "setup_ms": _ms(t0, t1),
                "model_load_ms": _ms(t1, t2),
                "warm_up_ms": _ms(t2, t3),
                "init_ms": _ms(p0, t3),
                "task": ctx.task.task.name if ctx.task else None,
                "task_reason": ctx.task.reason if ctx.task else "chosen on the first request",
                "fixed_batch": engine.fixed_batch(ctx.model) if engine.is_engine(ctx.model) else None,
            }
        )
        return app

    @classmethod
    def _start_adapter(cls, conf: settings.Settings, cpus: int, p0: float, t0: float) -> App:
        """A handler from another model server (lit_runtime.adapters): it loads its own model."""
        from . import adapters

        hooks = adapters.hooks(conf)
        t1 = time.perf_counter()
        if conf.model_url and conf.model_sha256 and not os.environ.get("LIT_CHECK_OFFLINE"):
            from . import fetch

            conf = dataclasses.replace(conf, model_dir=fetch.fetch(conf.model_url, conf.model_sha256))
        ctx = Context(settings=conf, cpus=cpus)
        hooks["initialize"](ctx)
        gc.collect()
        gc.freeze()
        t2 = time.perf_counter()
        assert conf.adapter is not None
        _emit(
            {
                "event": "init",
                "function": conf.name,
                "cpus": cpus,
                "adapter": conf.adapter.kind,
                "imports_ms": _ms(p0, t0),
                "setup_ms": _ms(t0, t1),
                "model_load_ms": _ms(t1, t2),
                "init_ms": _ms(p0, t2),
            }
        )
        return cls(ctx, hooks)

    def warm_up(self) -> Any:
        """One forward pass at init, so the first request pays no lazy allocation. Image models
        know their input shape; tensor models when lit.toml gives input_shape or the ONNX graph does."""
        conf = self.ctx.settings
        if self.ctx.model is None:
            return
        import numpy as np

        if conf.input_kind == "image":
            channels = 1 if conf.image.color == "gray" else 3
            w, h = conf.image.size
            self.ctx.sizes = [(w, h)]
            return self.hooks["inference"](np.zeros((1, channels, h, w), np.float32), self.ctx)
        if conf.input_kind == "text":
            self.ctx.batch = self.hooks["preprocess"](["warm up"], self.ctx)
            return self.hooks["inference"](self.ctx.batch, self.ctx)
        ports = {p.name: p.shape for p in defaults.input_ports(self.ctx)}
        if conf.input_shape:
            ports = {next(iter(ports)): (None, *conf.input_shape)}
        names = defaults.input_names(self.ctx)
        if any((shape := ports.get(name)) is None or None in shape[1:] for name in names):
            return None  # shape unknown: the first request warms the model
        dtypes = defaults.input_dtypes(self.ctx)
        batch = {name: np.zeros([1, *ports[name][1:]], dtypes[name]) for name in names}  # type: ignore[index]
        self.ctx.batch = batch
        return self.hooks["inference"](batch if len(names) > 1 else batch[names[0]], self.ctx)

    def handle(self, event: Any, lambda_context: Any = None) -> Any:
        self.ctx.request_id = getattr(lambda_context, "aws_request_id", "") or ""
        trigger = events.detect(event)
        timings: dict[str, float] = {}
        batch = 0
        status = 200
        form = "json"
        try:
            t0 = time.perf_counter()
            request = events.parse(event, self.ctx.settings.input_kind)
            if request.trigger in ("direct", *events.HTTP):
                batch = len(request.inputs)
                if batch > defaults.MAX_EXAMPLES:
                    raise InputError(
                        f"{batch} examples in one request, over the cap of {defaults.MAX_EXAMPLES}; "
                        "send them in several requests",
                        413,
                    )
                form = request.accept
                timings["decode"] = _ms(t0, time.perf_counter())
                payload: Any = self._predict(request.inputs, timings, form, events.is_http(trigger))
                if self.ctx.settings.adapter is not None and not isinstance(payload, dict):
                    self._log(trigger, batch, timings, status, None)  # a Raw answer (see _predict)
                    return events.http_answer(trigger, status, payload.data, payload.content_type)
                if request.trigger == "direct":
                    answers.check_direct(payload, self.numbers, form)
            else:
                if request.trigger == "s3":
                    self._read_objects(request.items)
                _cap(request.items)
                batch = len(request.inputs)
                timings["decode"] = _ms(t0, time.perf_counter())
                payload = self._answer_batch(request, self._predict_items(request.items, timings))
        except InputError as exc:
            status = exc.status
            if not events.is_http(trigger):
                self._log(trigger, batch, timings, status, str(exc))
                raise
            payload, form = {"error": {"status": status, "message": str(exc)}}, "json"
        except Exception as exc:
            status = 500
            if not isinstance(exc, answers.ResponseSizeTooLarge):
                traceback.print_exc(file=sys.stderr)
            self._log(trigger, batch, timings, status, f"{type(exc).__name__}: {exc}")
            if not events.is_http(trigger):
                raise
            error = {"error": {"status": 500, "message": "internal error; see the function's logs"}}
            return events.http_answer(trigger, 500, error)
        self.ctx.batch = None  # the request's inputs are not kept past it
        if batch > defaults.CHUNK[self.ctx.settings.input_kind]:
            release = getattr(self.ctx.model, "release", None)
            if callable(release):  # an engine's own caches (ONNX Runtime's arena)
                release()
            _release()
        if not events.is_http(trigger):
            self._log(trigger, batch, timings, status, None)
            return payload
        answer = events.http_answer(trigger, status, payload, answers.FORMS[form])
        refused = None
        if len(answer["body"]) > answers.MAX_RESPONSE_BYTES:
            status, refused = 413, answers.too_large(len(answer["body"]), form)
            answer = events.http_answer(trigger, status, {"error": {"status": status, "message": refused}})
        self._log(trigger, batch, timings, status, refused)
        return answer

    def _predict(self, inputs: list[Any], timings: dict[str, float], form: str = "json", http: bool = False) -> Any:
        """The answer to one request's inputs: {"predictions": [...]} in JSON, or the task's arrays as
        .npy/.npz bytes (base64 in a direct answer)."""
        t1 = time.perf_counter()
        self.ctx.sizes = []
        data = self.ctx.batch = self.hooks["preprocess"](inputs, self.ctx)
        t2 = time.perf_counter()
        outputs = self.hooks["inference"](data, self.ctx)
        t3 = time.perf_counter()
        self.numbers = _numbers(outputs)
        if self.ctx.settings.adapter is not None:
            from .adapters import Raw, jsonable

            predictions = list(self.hooks["postprocess"](outputs, self.ctx))
            one = http and len(predictions) == 1 and isinstance(predictions[0], Raw)
            # one HTTP answer goes back as the handler serialised it, as its own server would send it
            answer: Any = predictions[0] if one else {"predictions": [jsonable(p) for p in predictions]}
        elif form == "json":
            answer = {"predictions": list(self.hooks["postprocess"](outputs, self.ctx))}
            if not _finite(outputs):
                answer = answers.finite(answer)
        else:
            if self.hooks["postprocess"] is not defaults.postprocess:
                raise InputError("this function's service.py postprocess answers JSON only; ask for JSON", 406)
            named = tasks.named(outputs, defaults.output_ports(self.ctx))
            arrays = tasks.current(self.ctx, named).arrays(named, self.ctx)
            data = answers.encode(arrays, form)
            answer = data if http else answers.direct(data, form, arrays)
        t4 = time.perf_counter()
        for key, a, b in (("preprocess", t1, t2), ("inference", t2, t3), ("postprocess", t3, t4)):
            timings[key] = round(timings.get(key, 0.0) + _ms(a, b), 3)
        return answer

    def _predict_items(self, items: list[events.Item], timings: dict[str, float]) -> dict[int, Any]:
        """Predictions per item, with ONE forward pass for all good items of a batch.

        Each item is preprocessed on its own, so a bad record fails alone; if the joint forward
        pass fails (records of different shapes, say), each item runs alone to find the bad one.
        """
        import numpy as np

        results: dict[int, Any] = {}
        prepared: list[tuple[int, Any]] = []
        sizes: dict[int, list[tuple[int, int]]] = {}  # each item's image sizes, for detect
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            if item.error is None:
                try:
                    self.ctx.sizes = []
                    prepared.append((i, self.hooks["preprocess"](item.inputs, self.ctx)))
                    sizes[i] = self.ctx.sizes
                except InputError as exc:
                    item.error = exc
        timings["preprocess"] = _ms(t0, time.perf_counter())
        if not prepared:
            return results
        try:
            if isinstance(prepared[0][1], list):  # an adapter's bodies
                joint: Any = [body for _, data in prepared for body in data]
            elif self.ctx.settings.input_kind == "text" and isinstance(prepared[0][1], dict):
                from . import text

                joint = text.join([data for _, data in prepared], self.ctx)
            elif isinstance(prepared[0][1], dict):
                joint = {k: np.concatenate([data[k] for _, data in prepared]) for k in prepared[0][1]}
            else:
                joint = np.concatenate([data for _, data in prepared])
            self.ctx.batch, self.ctx.sizes = joint, [size for i, _ in prepared for size in sizes[i]]
            t1 = time.perf_counter()
            outputs = self.hooks["inference"](joint, self.ctx)
            t2 = time.perf_counter()
            flat = self._plain(list(self.hooks["postprocess"](outputs, self.ctx)), outputs)
            timings.update(inference=_ms(t1, t2), postprocess=_ms(t2, time.perf_counter()))
            if len(flat) != sum(_count(data) for _, data in prepared):
                raise ValueError("postprocess returned a different number of results than inputs")
        except Exception:  # noqa: BLE001 - isolate the failing item below
            for i, data in prepared:
                try:
                    self.ctx.batch, self.ctx.sizes = data, sizes[i]
                    alone = self.hooks["inference"](data, self.ctx)
                    results[i] = self._plain(list(self.hooks["postprocess"](alone, self.ctx)), alone)
                except InputError as exc:
                    items[i].error = exc
                except Exception as exc:  # a hook raised on this record only
                    traceback.print_exc(file=sys.stderr)
                    items[i].error = InputError(f"{type(exc).__name__}: {exc}", 500)
            return results
        start = 0
        for i, data in prepared:
            results[i] = flat[start : start + _count(data)]
            start += _count(data)
        return results

    def _plain(self, predictions: list[Any], outputs: Any) -> list[Any]:
        """Postprocessed predictions as JSON holds them: NaN and infinities named, an adapter's
        serialised answers read back (lit_runtime.adapters.jsonable)."""
        if self.ctx.settings.adapter is not None:
            from .adapters import jsonable

            return [jsonable(p) for p in predictions]
        return predictions if _finite(outputs) else answers.finite(predictions)

    def _s3(self) -> Any:
        """The S3 client, made on the first S3 event and reused while the sandbox is warm."""
        if self.s3 is None:
            from .s3 import S3

            self.s3 = S3()
        return self.s3

    def _read_objects(self, items: list[events.Item]) -> None:
        from .s3 import S3Error

        client = self._s3()
        for item in items:
            if item.source is None or item.error is not None:
                continue
            bucket, key = item.source
            try:
                data = client.get(bucket, key)
            except S3Error as exc:
                if exc.status in (403, 404):
                    item.error = InputError(str(exc), exc.status)
                    continue
                raise  # throttling or an outage: fail the invoke so Lambda retries it
            if len(data) > self.ctx.settings.max_object_bytes:
                item.error = InputError(f"s3://{bucket}/{key} is {len(data)} bytes, over the limit", 413)
                continue
            try:
                item.inputs = events.object_inputs(key, data, self.ctx.settings.input_kind)
            except InputError as exc:
                item.error = exc

    def _answer_batch(self, request: events.Request, results: dict[int, Any]) -> dict[str, Any]:
        entries = []
        for i, item in enumerate(request.items):
            entry: dict[str, Any] = {"id": item.id}
            if item.error is not None:
                entry["error"] = {"status": item.error.status, "message": str(item.error)}
            else:
                entry["predictions"] = results.get(i, [])
            entries.append(entry)
        answer: dict[str, Any] = {"results": entries}
        if request.trigger in events.BATCH:
            answer["batchItemFailures"] = [{"itemIdentifier": e["id"]} for e in entries if "error" in e]
        if request.trigger == "s3":
            self._write_outputs(request.items, entries)
        return answer

    def _write_outputs(self, items: list[events.Item], entries: list[dict[str, Any]]) -> None:
        """One JSON per object: OUTPUT/KEY.json with the predictions, or KEY.error.json."""
        target = self.ctx.settings.output_s3
        if not target:
            return
        from .s3 import parse_url

        out_bucket, prefix = parse_url(target)
        client = self._s3()
        for item, entry in zip(items, entries):
            if item.source is None:
                continue
            name = item.source[1] + (".error.json" if "error" in entry else ".json")
            key = f"{prefix.rstrip('/')}/{name}" if prefix else name
            client.put(
                out_bucket, key, json.dumps({"source": f"s3://{item.source[0]}/{item.source[1]}", **entry}).encode()
            )
            entry["output"] = f"s3://{out_bucket}/{key}"

    def _log(self, trigger: str, batch: int, timings: dict[str, float], status: int, error: str | None) -> None:
        rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        name, rid = self.ctx.settings.name, self.ctx.request_id
        sys.stdout.write(metrics.request_line(name, rid, trigger, status, batch, timings, rss, error) + "\n")
        sys.stdout.flush()


def load_model(conf: settings.Settings, cpus: int) -> Any:
    """The model, on the engine lit.toml names (its base carries only that engine)."""
    return engine.load(conf.engine, conf.model_dir, cpus, conf.epoch)


def _release() -> None:
    """After a large request, give the heap memory it freed back to the system (glibc keeps it
    otherwise, and the function's memory stays near its peak until the next cold start)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _cap(items: list[events.Item]) -> None:
    """A batch's records past the cap on examples per request fail on their own (and are retried in
    a later, smaller batch); the records before it are answered."""
    total = 0
    for item in items:
        if item.error is None:
            total += len(item.inputs)
            if total > defaults.MAX_EXAMPLES:
                item.error = InputError(
                    f"this record's examples take the batch over the cap of {defaults.MAX_EXAMPLES} per invoke; "
                    "it is retried in another batch (or send fewer examples per record)",
                    413,
                )
                total -= len(item.inputs)


def _arrays(outputs: Any) -> list[Any]:
    """What an inference hook returned, as a list of its arrays (a dict's values, a list, or one)."""
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _finite(outputs: Any) -> bool:
    """Whether a forward pass's float outputs are all finite (JSON has no NaN or Infinity)."""
    import numpy as np

    return all(
        not isinstance(v, np.ndarray) or v.dtype.kind != "f" or bool(np.isfinite(v).all()) for v in _arrays(outputs)
    )


def _numbers(outputs: Any) -> int:
    return sum(int(getattr(v, "size", 0)) for v in _arrays(outputs))


def _count(data: Any) -> int:
    """Examples in a preprocessed batch (an array, or a dict of named arrays)."""
    return len(next(iter(data.values()))) if isinstance(data, dict) else len(data)


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


def _emit(fields: dict[str, Any]) -> None:
    sys.stdout.write(metrics.line(fields) + "\n")
    sys.stdout.flush()
