"""`lit run` / `lit invoke` / `lit stop`: the function's image under the RIE, on 127.0.0.1.

The container gets what Lambda gives the function: MemorySize as its memory limit (no swap), a
CPU share of MemorySize / 1,769 MB, and the timeout, through the variables the RIE reads.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import arch, build, runtime_config
from . import lambda_limits as limits
from .docker import Docker, Publish, RunSpec
from .errors import LitError
from .project import Project

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
MAX_PAYLOAD = limits.SYNC_PAYLOAD
MB_PER_VCPU = limits.MB_PER_VCPU
LABEL = "lit.run"  # on the containers `lit run` starts (images carry lit.function, which their containers inherit)
LAMBDA_USER = "993:990"  # the uid:gid Lambda runs functions as (sbx_user1051)
MAX_CONCURRENCY = 32
PIDS_LIMIT = 1024  # Lambda's limit on processes and threads in an execution environment
INIT_LIMIT_MS = 10_000  # Lambda's limit on an on-demand init phase
_REPORT = re.compile(r"REPORT RequestId: (?P<id>\S+)(?P<rest>.*)")
_TIMED_OUT = re.compile(r"Task timed out after ([\d.]+) seconds")
_FIELD = re.compile(r"(Init Duration|Duration|Billed Duration|Memory Size|Max Memory Used): ([\d.]+) (ms|MB)")


@dataclass(frozen=True)
class Running:
    container: str  # the instance, or with --concurrency the proxy in front of the instances
    name: str
    port: int
    url: str
    image: str
    memory: int
    cpus: float
    instances: dict[int, str] = field(default_factory=dict)  # host port -> container id
    architecture: str = arch.host()  # the image's
    stale: bool = False  # built from another lit.toml than the project's now
    snapstart: bool = False  # SnapStart's lifecycle emulated: init, snapshot, restore, invokes

    @property
    def concurrency(self) -> int:
        return len(self.instances) or 1

    @property
    def emulation(self) -> str | None:
        """The note owed when the image runs under emulation here (its timings are not Lambda's)."""
        return arch.note(self.architecture)


@dataclass
class Invocation:
    status: int
    payload: Any
    function_error: bool
    report: dict[str, float] = field(default_factory=dict)
    request_id: str = ""
    seconds: float = 0.0
    init_report: list[str] = field(default_factory=list)  # Lambda's INIT_REPORT lines, when init ran over 10 s
    restored: bool = False  # the environment's first invoke after an (emulated) SnapStart restore
    emulation: str | None = None  # the note, when the function ran under emulation

    def warnings(self) -> list[str]:
        """What a user should hear besides the answer: that its timings are emulated, or an init over
        Lambda's limit, as Lambda reports it (emulated, an init's duration says nothing of Lambda's)."""
        if self.emulation:
            return [f"note: the function {self.emulation}"]
        restore_ms = self.report.get("restore_duration_ms", 0.0)
        if restore_ms > limits.SNAPSTART_RESTORE_HOOKS_S * 1000:
            return [
                f"warning: the after-restore work took {restore_ms / 1000:.1f} s, over Lambda's "
                f"{limits.SNAPSTART_RESTORE_HOOKS_S} s limit: there the invoke fails with SnapStartTimeoutException. "
                "fix: move work from after_restore into init (before the snapshot)"
            ]
        if not self.init_report:
            return []
        return [
            *self.init_report,
            f"warning: init took {self.report['init_duration_ms'] / 1000:.1f} s, over Lambda's 10 s limit: "
            "there, init is cut off and run again inside the first invoke (billed, and counted against "
            "the timeout). fix: move work out of init (a smaller model, or fetch it in parallel)",
        ]


def event_body(event: Path | None, image: Path | None, data: str | None, stdin: bytes | None = None) -> bytes:
    """The event `lit invoke` sends: a JSON file (`stdin` when it is '-'), an image file as
    {"image": base64}, or a JSON string; `{}` when none is given. It must be JSON."""
    if sum(x is not None for x in (event, image, data)) > 1:
        raise LitError("give one of --event, --image, --data", "pick one input")
    if image is not None:
        if not image.is_file():
            raise LitError(f"image file {image} does not exist", "pass an existing JPEG/PNG file")
        body = json.dumps({"image": base64.b64encode(image.read_bytes()).decode()}).encode()
    elif event is not None:
        if stdin is not None:
            body = stdin
        elif not event.is_file():
            raise LitError(f"event file {event} does not exist", "pass a JSON file (see tests/events/ for examples)")
        else:
            body = event.read_bytes()
    else:
        body = (data or "{}").encode()
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise LitError(f"the event is not valid JSON: {exc}", "pass a JSON document") from None
    return body


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_listening(port: int, timeout: float) -> bool:
    """Until an HTTP server answers on the port (any status): the engine's port proxy accepts
    connections before the RIE inside listens, so a bare TCP connect proves nothing. A GET starts
    no invocation, so the first invoke is still a cold start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.02)
    return False


def cpu_share(memory: int) -> float:
    """Lambda's CPU for a memory size (1,769 MB = 1 vCPU), capped at what this machine has."""
    return round(min(memory / MB_PER_VCPU, float(os.cpu_count() or 1)), 3)


def sandbox(spec: RunSpec, project: Project) -> RunSpec:
    """What a Lambda execution environment allows: a read-only root, /tmp (the function's
    ephemeral storage) as the only writable place, an unprivileged user with no capabilities and
    no way to gain privileges, and at most 1,024 processes and threads."""
    return replace(
        spec,
        read_only=True,
        tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={project.function.ephemeral_storage}m,mode=1777"},
        user=LAMBDA_USER,
        cap_drop=("ALL",),
        security_opt=("no-new-privileges",),
        pids_limit=PIDS_LIMIT,
    )


def instance(
    project: Project,
    image: str,
    publish: Publish,
    memory: int,
    timeout: int,
    sandboxed: bool = True,
    *,
    name: str | None = None,
    platform: str | None = None,
    idle_reclaim: float | None = None,
    snapstart: bool = False,
) -> RunSpec:
    """One execution environment: published on a port of its own (labelled, for `lit invoke` to
    find), or on one the engine picks, behind the --concurrency proxy. With `snapstart`, its runtime
    goes through SnapStart's lifecycle (lit_runtime.restore_api stands in for the restore API)."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": project.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{project.name}",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": "/var/task",
        **project.function.environment,
    }
    if idle_reclaim:
        env["LIT_IDLE_RECLAIM_S"] = f"{idle_reclaim:g}"
    if snapstart:
        env["LIT_SNAPSTART_EMULATE"] = "1"
    spec = RunSpec(
        image,
        name=name,
        platform=platform,
        publish=publish,
        memory_mb=memory,
        memory_swap_mb=memory,
        cpus=cpu_share(memory),
        env=env,
        labels={"lit.memory": str(memory), **_labels(project, "instance", publish.host_port, platform)},
    )
    return sandbox(spec, project) if sandboxed else spec


def proxy(
    project: Project, image: str, port: int, instances: dict[int, str], name: str, platform: str | None
) -> RunSpec:
    """The --concurrency proxy: on the port, in front of the instances (host port -> container id)."""
    return RunSpec(
        image,
        ("-m", "lit_runtime.proxy", str(port), ",".join(map(str, instances))),
        name=name,
        platform=platform,
        network="host",
        read_only=True,
        user=LAMBDA_USER,
        memory_mb=256,
        entrypoint="/opt/lit/bin/python",
        labels={
            **_labels(project, "proxy", port, platform),
            "lit.instances": ",".join(f"{p}={c}" for p, c in instances.items()),
        },
    )


def _labels(project: Project, role: str, port: int | None, platform: str | None) -> dict[str, str]:
    """What `lit stop` and `lit invoke` find containers by (only the one on the port has lit.port),
    and the image's platform, so that `lit invoke` need not inspect the image for it."""
    labels = {LABEL: project.name, "lit.role": role}
    if port is not None:
        labels["lit.port"] = str(port)
    if platform is not None:
        labels["lit.platform"] = platform
    return labels


def start(
    docker: Docker,
    project: Project,
    image: str | None = None,
    port: int = 9000,
    memory: int | None = None,
    timeout: int | None = None,
    concurrency: int = 1,
    sandbox: bool = True,
    idle_reclaim: float | None = None,
    snapstart: bool | None = None,
) -> Running:
    """With `idle_reclaim` (seconds), an instance idle that long ends its runtime, and its next
    request is a cold start, as when Lambda reclaims an environment (see lit_runtime.idle); the
    instances are then behind the endpoint even when there is one. `snapstart` (default: lit.toml's)
    runs SnapStart's lifecycle, emulated, in each instance."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:  # a bad flag is said before the engine is asked anything
        raise LitError(f"--concurrency {concurrency} is out of range", f"pass 1..{MAX_CONCURRENCY}", exit_code=2)
    docker.ensure()
    ref, info = build.built_image(docker, project, image)
    stale = runtime_config.stale(project, info)
    architecture = arch.of_image(info)
    arch.require_emulation(architecture)
    platform = arch.PLATFORMS.get(architecture)
    name = f"lit-{project.name}-{port}"
    in_use = LitError(f"port {port} on 127.0.0.1 is in use", "stop what holds it, or pass --port with a free port")
    # The port is checked before the running instance is touched: a `lit run` that cannot start
    # leaves the working one serving. Only this project's own instance on that port is let go.
    ours = any(c.name == name for c in docker.containers(f"{LABEL}={project.name}"))
    if not ours and not port_free(port):
        raise in_use
    stop(docker, project)  # one warm function per project; its port is freed here
    if not port_free(port):
        raise in_use
    mem = memory or project.function.memory
    limit = timeout or project.function.timeout
    snap = project.function.snapstart if snapstart is None else snapstart
    started: list[str] = []
    try:
        if concurrency == 1 and not idle_reclaim:
            spec = instance(
                project, ref, Publish(8080, port), mem, limit, sandbox, name=name, platform=platform, snapstart=snap
            )
            started.append(docker.run(spec))
            _listening(docker, started[0], port, ref, architecture)
            url = f"http://127.0.0.1:{port}{INVOKE_PATH}"
            return Running(started[0], name, port, url, ref, mem, cpu_share(mem), {}, architecture, stale, snap)
        instances: dict[int, str] = {}
        behind = instance(
            project,
            ref,
            Publish(8080),
            mem,
            limit,
            sandbox,
            platform=platform,
            idle_reclaim=idle_reclaim,
            snapstart=snap,
        )
        for i in range(1, concurrency + 1):
            cid = docker.run(replace(behind, name=f"{name}-{i}"))
            started.append(cid)
            instances[docker.host_port(cid, 8080)] = cid
        for instance_port, cid in instances.items():
            _listening(docker, cid, instance_port, ref, architecture)
        started.append(docker.run(proxy(project, ref, port, instances, name, platform)))
        _listening(docker, started[-1], port, ref, architecture)
        url = f"http://127.0.0.1:{port}{INVOKE_PATH}"
        return Running(started[-1], name, port, url, ref, mem, cpu_share(mem), instances, architecture, stale, snap)
    except BaseException:
        for cid in started:
            docker.remove_container(cid)
        raise


def _listening(docker: Docker, container: str, port: int, ref: str, architecture: str) -> None:
    if not _wait_listening(port, 60 if arch.emulated(architecture) else 15):
        logs = docker.logs(container)
        raise LitError(
            f"the container for {ref} exited or never listened on {port}:\n{logs[-2000:]}", "see its log above"
        )


def find(docker: Docker, project: Project) -> Running:
    docker.ensure()
    for c in docker.containers(f"{LABEL}={project.name}"):
        if "lit.port" not in c.labels:
            continue  # an instance behind a proxy
        info = docker.inspect_container(c.id) or {}
        if not info.get("State", {}).get("Running"):
            continue
        port = int(c.labels.get("lit.port", "9000"))
        mem = int(c.labels.get("lit.memory", "0"))
        instances = {}
        if c.labels.get("lit.role") == "proxy":  # `docker ps` mangles commas in labels; inspect has them whole
            listed = (info["Config"].get("Labels") or {}).get("lit.instances", "")
            pairs = (item.split("=", 1) for item in listed.split(",") if item)
            instances = {int(p): cid for p, cid in pairs}
        url = f"http://127.0.0.1:{port}{INVOKE_PATH}"
        image = info["Config"]["Image"]
        platform = c.labels.get("lit.platform")
        if platform:
            architecture = arch.name(platform.rpartition("/")[2])
        else:  # started by an earlier lit
            architecture = arch.of_image(docker.image(image) or {}) or arch.host()
        return Running(info["Id"], c.name, port, url, image, mem, cpu_share(mem), instances, architecture)
    raise LitError(f"{project.name} is not running locally", f"start it with `lit run {project.root}`")


def stop(docker: Docker, project: Project) -> list[str]:
    docker.ensure()
    removed = []
    for c in docker.containers(f"{LABEL}={project.name}"):
        docker.remove_container(c.id)
        removed.append(c.name)
    return removed


def post(url: str, body: bytes, timeout: float) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()}
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise LitError(f"no answer from {url}: {exc}", "is the function running? start it with `lit run DIR`") from None


def parse_report(logs: str) -> tuple[str, dict[str, float]]:
    """The last REPORT line the RIE wrote: request id and its figures (ms / MB)."""
    for line in reversed(logs.splitlines()):
        if m := _REPORT.search(line):
            figures = {
                k.lower().replace(" ", "_") + ("_ms" if unit == "ms" else "_mb"): float(v)
                for k, v, unit in _FIELD.findall(m["rest"])
            }
            return m["id"], figures
    return "", {}


def runtime_lines(logs: str, kind: str) -> list[dict[str, Any]]:
    lines = []
    for line in logs.splitlines():
        if line.startswith("{") and f'"{kind}"' in line:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict) and doc.get("event") == kind:
                lines.append(doc)
    return lines


def cgroup_peak_mb(container_id: str) -> float | None:
    """The container's peak memory from the host's cgroup files (v1 or v2), when readable."""
    candidates = (
        Path(f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes"),
        Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak"),
    )
    for path in candidates:
        try:
            return round(int(path.read_text()) / 2**20, 1)
        except (OSError, ValueError):
            continue
    return None


def parse_payload(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        text = raw.decode(errors="replace")
    if m := _TIMED_OUT.fullmatch(text.strip()):  # the RIE's plain-text answer; Lambda's shape instead
        return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {m[1]} seconds"}
    return text


def init_report(init_ms: float) -> list[str]:
    """Lambda's INIT_REPORT lines for an init over its 10 s limit: on Lambda the init is cut off and
    run again inside the first invoke, where it counts against the timeout and is billed."""
    if init_ms <= INIT_LIMIT_MS:
        return []
    return [
        f"INIT_REPORT Init Duration: {INIT_LIMIT_MS:.2f} ms\tPhase: init\tStatus: timeout",
        f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: invoke\tStatus: success",
    ]


def invoke(docker: Docker | None, running: Running, body: bytes, timeout: float = 960) -> Invocation:
    if len(body) > MAX_PAYLOAD:
        raise LitError(
            f"the event is {len(body):,} bytes: over Lambda's {MAX_PAYLOAD:,}-byte (6 MB) limit on a synchronous "
            "invoke, which Lambda answers with 413 RequestEntityTooLargeException",
            "send the input by reference (an S3 object: an S3 event, or a model input read from S3) or smaller "
            "(.npy instead of JSON lists, a compressed image)",
        )
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    t0 = time.perf_counter()
    status, raw, headers = post(running.url, body, timeout)
    seconds = time.perf_counter() - t0
    payload = parse_payload(raw)
    failed = status != 200 or (isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload)
    result = Invocation(status, payload, failed, seconds=round(seconds, 4), emulation=running.emulation)
    # behind the --concurrency proxy, the instance that served it holds the logs
    container = running.instances.get(int(headers.get("x-lit-instance") or 0), running.container)
    if docker is not None and status != 429:
        for _ in range(20):  # the RIE writes REPORT just after it answers
            logs = docker.logs(container, since=since)
            result.request_id, result.report = parse_report(logs)
            if result.report:
                # The RIE's memory figures are placeholders (it reports MemorySize); use the
                # container's real peak, and the runtime's own init timing on a cold start.
                result.report.pop("max_memory_used_mb", None)
                result.report.pop("init_duration_ms", None)
                if (peak := cgroup_peak_mb(container)) is not None:
                    result.report["max_memory_used_mb"] = peak
                if restores := runtime_lines(logs, "restore"):
                    # As Lambda reports a restored environment: its init ran before the snapshot
                    result.restored = True
                    result.report["restore_duration_ms"] = float(restores[-1]["restore_ms"])
                elif inits := runtime_lines(logs, "init"):
                    result.report["init_duration_ms"] = float(inits[-1]["init_ms"])
                    result.init_report = init_report(result.report["init_duration_ms"])
                if requests := runtime_lines(logs, "request"):
                    result.report["max_rss_mb"] = float(requests[-1]["max_rss_mb"])
                break
            time.sleep(0.05)
    return result
