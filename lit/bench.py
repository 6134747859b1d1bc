"""`lit bench`: measure a function project locally, at one or several memory sizes.

For each size the function runs as `lit run` runs it (the Lambda sandbox, MemorySize as the memory
limit, a CPU share of MemorySize / 1,769 MB): cold starts split into container start and the
runtime's own init phases, warm p50/p99 through the RIE, the billed duration and the peak memory,
and the cost per million requests at Lambda's prices. Then the cheapest size within a latency bound.
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import statistics
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import arch, build, local, prices, progress
from .docker import Docker
from .errors import LitError
from .project import Project

_BILLED = re.compile(r"Billed Duration: ([\d.]+) ms")
DEFAULT_BOUND = 1.25  # with no --p99-bound: within 25% of the best p99 measured
EMULATED_WARM = 20  # warm invokes per size under emulation: enough to see it answers


@dataclass
class Layer:
    id: str
    size_mb: float
    created_by: str


@dataclass
class ColdStart:
    container_start_ms: float  # `docker run` until the RIE listens
    first_answer_ms: float  # the first request until its answer (init + the first invoke)
    imports_ms: float
    setup_ms: float
    model_load_ms: float
    warm_up_ms: float
    init_ms: float


@dataclass
class SizeResult:
    memory: int
    cpus: float
    cold: ColdStart | None = None  # the median of each phase over `colds`
    colds: list[ColdStart] = field(default_factory=list)  # every cold start measured (for planning)
    warm_p50_ms: float = 0.0
    warm_p99_ms: float = 0.0
    warm_p99_ci_ms: tuple[float, float] = (0.0, 0.0)  # 95% confidence interval of the p99, from the samples
    warm_samples_ms: list[float] = field(default_factory=list)
    billed_ms: float = 0.0  # mean billed duration of the warm invokes (1 ms granularity)
    max_memory_mb: float = 0.0
    cost_per_million: float = 0.0
    answered: int = 0  # invokes that answered without an error (cold and warm)
    invokes: int = 0
    error: str = ""


@dataclass
class Report:
    image: str
    size_mb: float
    layers: list[Layer]
    architecture: str
    results: list[SizeResult] = field(default_factory=list)
    bound_ms: float = 0.0
    recommended: int | None = None
    reason: str = ""
    price_gb_second: float = 0.0  # Lambda's duration price for the architecture (us-east-1)
    emulation: str = ""  # the note, when the image ran under emulation: then no timings are reported

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost_per_million(billed_ms: float, memory: int, architecture: str) -> float:
    gb_seconds = billed_ms / 1000 * memory / 1024
    return round(1_000_000 * (gb_seconds * prices.GB_SECOND[architecture] + prices.REQUEST), 4)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def quantile_ci(values: list[float], q: float, z: float = 1.96) -> tuple[float, float]:
    """A distribution-free confidence interval of the q-quantile: the order statistics around rank
    n*q, +- z standard deviations of a binomial count (95% for z = 1.96), within the samples' range
    (with few samples the true p99 may lie above the largest: the interval then ends there)."""
    ordered = sorted(values)
    n = len(ordered)
    spread = z * math.sqrt(n * q * (1 - q))
    lo = max(0, math.floor(n * q - spread) - 1)
    hi = min(n - 1, math.ceil(n * q + spread) - 1)
    return ordered[lo], ordered[hi]


def tail_mean(values: list[float]) -> float:
    """The mean of the slowest 2% (at least 3) of the samples."""
    ordered = sorted(values)
    k = min(len(ordered), max(3, math.ceil(len(ordered) * 0.02)))
    return sum(ordered[-k:]) / k


def _pick(ok: list[SizeResult], bound_ms: float | None, p99: dict[int, float]) -> tuple[int | None, float]:
    """The cheapest size whose p99 is within the bound (default: 1.25x the best p99)."""
    bound = bound_ms if bound_ms is not None else round(min(p99.values()) * DEFAULT_BOUND, 3)
    within = [r for r in ok if p99[r.memory] <= bound]
    if not within:
        return None, bound
    return min(within, key=lambda r: (r.cost_per_million, p99[r.memory])).memory, bound


def recommend(
    results: list[SizeResult], bound_ms: float | None, rounds: int = 200, seed: int = 0
) -> tuple[int | None, float, str]:
    """The cheapest size whose warm p99 is within the bound (default: 1.25x the best p99), as far as
    the samples support it: the choice is made again on `rounds` bootstrap resamples of each size's
    warm samples (on the mean of the slowest 2%, a p99 that resampling can estimate: the largest
    sample alone cannot be), and every size picked in at least 5% of them is within noise of the
    others; the cheapest of those is recommended, so that host noise cannot flip the answer from run
    to run."""
    ok = [r for r in results if not r.error]
    if not ok:
        return None, 0.0, "no memory size ran"
    chosen, bound = _pick(ok, bound_ms, {r.memory: r.warm_p99_ms for r in ok})
    contenders = {chosen} if chosen else set()
    if all(len(r.warm_samples_ms) >= 10 for r in ok):
        rng = random.Random(seed)
        wins: dict[int | None, int] = {}
        for _ in range(rounds):
            p99 = {r.memory: tail_mean(rng.choices(r.warm_samples_ms, k=len(r.warm_samples_ms))) for r in ok}
            pick = _pick(ok, bound_ms, p99)[0]
            wins[pick] = wins.get(pick, 0) + 1
        contenders |= {m for m, n in wins.items() if m is not None and n >= 0.05 * rounds}
    if not contenders:
        return None, bound, f"no memory size has a warm p99 within {bound:g} ms"
    best = min((r for r in ok if r.memory in contenders), key=lambda r: (r.cost_per_million, r.warm_p99_ms))
    why = f"the cheapest with warm p99 <= {bound:g} ms (${best.cost_per_million:.4f} per 1M)"
    if len(contenders) > 1:
        spans = ", ".join(
            f"{r.memory} MB {r.warm_p99_ci_ms[0]:.1f}-{r.warm_p99_ci_ms[1]:.1f} ms"
            for r in ok
            if r.memory in contenders
        )
        why += (
            f"; {', '.join(str(m) for m in sorted(contenders))} MB are within noise of each other "
            f"(p99 95% intervals: {spans}): more --warm samples may tell them apart"
        )
    return best.memory, bound, why


def default_event(project: Project) -> bytes:
    """With no event given: a blank image of the model's input size, a sentence for a text model,
    or zeros of its input shape."""
    if project.input_kind == "image":
        width, height = project.image.size
        return json.dumps({"image": _png_base64(int(width), int(height))}).encode()
    if project.input_kind == "text":
        return json.dumps({"text": "A short sentence of about the length a caller sends, to time the model."}).encode()
    if project.adapter is not None:
        raise LitError(
            "no event to send: an [adapter] handler decides what a request holds", "pass --event FILE, one it answers"
        )
    shape = list(project.input_shape)
    if not shape:
        raise LitError("no event to send: the model takes tensors and lit.toml has no input_shape", "pass --event FILE")

    def zeros(dims: list[int]) -> Any:
        return [0.0] * dims[0] if len(dims) == 1 else [zeros(dims[1:]) for _ in range(dims[0])]

    return json.dumps({"inputs": zeros(list(shape))}).encode()


def _png_base64(width: int, height: int) -> str:
    import base64

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([128]) * width for _ in range(height))  # 8-bit gray rows
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def layers(docker: Docker, image: str) -> list[Layer]:
    found = []
    for h in docker.history(image):
        if int(h["Size"]) > 0:
            created = h["CreatedBy"].replace("/bin/sh -c #(nop) ", "").strip()
            found.append(Layer(h["ID"].replace("sha256:", "")[:12], round(int(h["Size"]) / 1e6, 1), created[:100]))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answered(status: int, raw: bytes) -> bool:
    payload = local.parse_payload(raw)
    return status == 200 and not (isinstance(payload, dict) and "errorType" in payload)


def measure_size(
    docker: Docker,
    project: Project,
    image: str,
    memory: int,
    body: bytes,
    cold: int,
    warm: int,
    port: int | None = None,
    emulated: bool = False,
    task: progress.Task | None = None,
) -> SizeResult:
    """Cold starts, then warm invokes at one memory size. `emulated`: the image runs under
    emulation, so only whether it answers and its memory are kept, no timings. `task` is advanced
    by each invoke."""
    task = task or progress.Task()
    result = SizeResult(memory, local.cpu_share(memory))
    colds: list[ColdStart] = []
    running = None
    try:
        for i in range(cold):
            task.update(description=f"bench {memory} MB: cold start {i + 1}/{cold}")
            t0 = time.perf_counter()
            running = local.start(docker, project, image, port or free_port(), memory)
            t1 = time.perf_counter()
            status, raw, _ = local.post(running.url, body, project.function.timeout + 5)
            t2 = time.perf_counter()
            result.invokes += 1
            task.advance()
            if not _answered(status, raw):
                raise LitError(f"the function failed at {memory} MB: {raw[:300].decode(errors='replace')}", "")
            result.answered += 1
            init = local.runtime_lines(docker.logs(running.container), "init")
            ms = init[-1] if init else {}
            colds.append(
                ColdStart(
                    round((t1 - t0) * 1000, 1),
                    round((t2 - t1) * 1000, 1),
                    *(float(ms.get(f"{k}_ms", 0.0)) for k in ("imports", "setup", "model_load", "warm_up", "init")),
                )
            )
            if i < cold - 1:
                local.stop(docker, project)
        if running is None:
            raise LitError("no cold start was measured", "pass --cold 1 or more")
        result.colds = colds
        result.cold = ColdStart(
            *(statistics.median(getattr(c, f) for c in colds) for f in ColdStart.__dataclass_fields__)
        )
        latencies = []
        task.update(description=f"bench {memory} MB: warm invokes")
        for _ in range(warm):
            t0 = time.perf_counter()
            status, raw, _ = local.post(running.url, body, project.function.timeout + 5)
            latencies.append((time.perf_counter() - t0) * 1000)
            result.invokes += 1
            task.advance()
            if not _answered(status, raw):
                raise LitError(f"a warm invoke failed at {memory} MB: {raw[:300].decode(errors='replace')}", "")
            result.answered += 1
        # the container's peak, as Lambda's Max Memory Used counts it; process RSS (which counts file
        # pages mapped from the image) only where the cgroup cannot be read
        peak = local.cgroup_peak_mb(running.container)
        rss = [float(line["max_rss_mb"]) for line in local.runtime_lines(docker.logs(running.container), "request")]
        result.max_memory_mb = peak if peak is not None else max(rss, default=0.0)
        if emulated:
            result.cold, result.colds = None, []
            return result
        result.warm_p50_ms = round(statistics.median(latencies), 3)
        result.warm_p99_ms = round(percentile(latencies, 0.99), 3)
        result.warm_samples_ms = [round(x, 3) for x in latencies]
        lo, hi = quantile_ci(latencies, 0.99)
        result.warm_p99_ci_ms = (round(lo, 3), round(hi, 3))
        billed = [float(m) for m in _BILLED.findall(docker.logs(running.container))][-warm:]
        result.billed_ms = round(statistics.fmean(billed), 3) if billed else math.ceil(result.warm_p50_ms)
        result.cost_per_million = cost_per_million(result.billed_ms, memory, running.architecture)
    except LitError as exc:
        logs = docker.logs(running.container) if running else ""
        oom = "signal: killed" in logs or "signal: killed" in str(exc)  # the RIE's word for the OOM killer
        result.error = f"out of memory at {memory} MB" if oom else str(exc).splitlines()[0][:300]
    finally:
        local.stop(docker, project)
    return result


def run(
    docker: Docker,
    project: Project,
    memories: list[int],
    body: bytes | None = None,
    cold: int = 3,
    warm: int = 200,
    bound_ms: float | None = None,
    image: str | None = None,
    log: Callable[[str], None] = lambda _: None,
    port: int | None = None,
) -> Report:
    docker.ensure()
    if port is not None and not local.port_free(port):
        raise LitError(f"port {port} on 127.0.0.1 is in use", "pass another --port, or none (a free one is picked)")
    ref, info = build.built_image(docker, project, image)
    body = body if body is not None else default_event(project)
    architecture = arch.of_image(info)
    report = Report(ref, round(int(info.get("Size", 0)) / 1e6, 1), layers(docker, ref), architecture)
    report.price_gb_second = prices.GB_SECOND.get(architecture, 0.0)
    report.emulation = arch.note(architecture) or ""
    if report.emulation:
        # one cold start is enough to show it answers; more would only take minutes
        cold, warm = 1, min(warm, EMULATED_WARM)
        log(f"note: {ref} {report.emulation}: reporting whether it answers, its size and memory, no timings")
    with progress.task(log, "bench", len(memories) * (cold + warm), "invokes") as task:
        for done, memory in enumerate(memories, 1):
            log(f"{memory} MB: {cold} cold start{'s' if cold > 1 else ''}, {warm} warm invokes")
            emulated = bool(report.emulation)
            report.results.append(measure_size(docker, project, ref, memory, body, cold, warm, port, emulated, task))
            task.update(completed=done * (cold + warm))  # a size that failed part-way counts as done
    if report.emulation:
        report.reason = (
            f"timings under emulation say nothing about Lambda: run `lit bench` on an {architecture} machine"
        )
    else:
        report.recommended, report.bound_ms, report.reason = recommend(report.results, bound_ms)
    return report


RESULTS = ".lit/bench.json"  # the project's last results, raw samples included (for planning)


def save(project: Project, report: Report) -> Path:
    path = project.root / RESULTS
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(report.to_dict()))
    return path


def text(report: Report) -> str:
    lines = [f"{report.image}: {report.size_mb} MB in {len(report.layers)} layers, {report.architecture}"]
    lines += [f"  {layer.size_mb:>8.1f} MB  {layer.id}  {layer.created_by}" for layer in report.layers]
    if report.emulation:
        return "\n".join([*lines, *_emulated_text(report)])
    head = "memory  vCPU  start ms  imports  load  warm-up  init ms  first ms  p50 ms  p99 ms  billed  max MB  $ per 1M"
    lines += ["", head]
    for r in report.results:
        if r.error:
            lines.append(f"{r.memory:>6}  {r.cpus:>4.2f}  failed: {r.error}")
            continue
        c = r.cold or ColdStart(0, 0, 0, 0, 0, 0, 0)
        lines.append(
            f"{r.memory:>6}  {r.cpus:>4.2f}  {c.container_start_ms:>8.0f}  {c.imports_ms:>7.0f}  {c.model_load_ms:>4.0f}"
            f"  {c.warm_up_ms:>7.0f}  {c.init_ms:>7.0f}  {c.first_answer_ms:>8.0f}  {r.warm_p50_ms:>6.2f}"
            f"  {r.warm_p99_ms:>6.2f}  {r.billed_ms:>6.2f}  {r.max_memory_mb:>6.0f}  {r.cost_per_million:>8.4f}"
        )
    if report.recommended:
        lines.append(f"\nrecommended: {report.recommended} MB, {report.reason}")
    else:
        lines.append(f"\nno recommendation: {report.reason}")
    return "\n".join(lines)


def _emulated_text(report: Report) -> list[str]:
    lines = [
        "",
        f"note: the image {report.emulation}; no latency or cost per request is reported",
        "memory  answered  max MB",
    ]
    for r in report.results:
        answered = f"{r.answered}/{r.invokes}"
        if r.error:
            lines.append(f"{r.memory:>6}  {answered:>8}  failed: {r.error}")
        else:
            lines.append(f"{r.memory:>6}  {answered:>8}  {r.max_memory_mb:>6.0f}")
    lines.append(
        f"\nLambda's {report.architecture} price: ${report.price_gb_second:.10f} per GB-second "
        f"(x86_64: ${prices.GB_SECOND['x86_64']:.10f}), plus ${prices.REQUEST * 1e6:.2f} per 1M requests"
    )
    lines.append(f"no recommendation: {report.reason}")
    return lines


def plot(report: Report, path: Path) -> None:
    """A PNG of latency and cost against memory."""
    from . import plot as drawing

    drawing.render({"kind": "bench", **report.to_dict()}, path)
