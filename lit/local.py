"""`lit run` / `lit invoke` / `lit stop`: the function's image under the RIE, on 127.0.0.1.

The container gets what Lambda gives the function: MemorySize as its memory limit (no swap), a
CPU share of MemorySize / 1,769 MB, and the timeout, through the variables the RIE reads.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .docker import Docker
from .errors import LitError
from .project import Project

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
LABEL = "lit.function"
_REPORT = re.compile(r"REPORT RequestId: (?P<id>\S+)(?P<rest>.*)")
_FIELD = re.compile(r"(Init Duration|Duration|Billed Duration|Memory Size|Max Memory Used): ([\d.]+) (ms|MB)")


@dataclass(frozen=True)
class Running:
    container: str
    name: str
    port: int
    url: str
    image: str
    memory: int
    cpus: float


@dataclass
class Invocation:
    status: int
    payload: Any
    function_error: bool
    report: dict[str, float] = field(default_factory=dict)
    request_id: str = ""
    seconds: float = 0.0


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_listening(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def cpu_share(memory: int) -> float:
    """Lambda's CPU for a memory size (1,769 MB = 1 vCPU), capped at what this machine has."""
    return round(min(memory / 1769, float(os.cpu_count() or 1)), 3)


def run_args(project: Project, port: int, memory: int, timeout: int) -> list[str]:
    cpus = cpu_share(memory)
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": project.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        **project.function.environment,
    }
    args = [
        "-p",
        f"127.0.0.1:{port}:8080",
        f"--memory={memory}m",
        f"--memory-swap={memory}m",
        f"--cpus={cpus}",
        "--label",
        f"{LABEL}={project.name}",
        "--label",
        f"lit.port={port}",
        "--label",
        f"lit.memory={memory}",
    ]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return args


def start(
    docker: Docker,
    project: Project,
    image: str | None = None,
    port: int = 9000,
    memory: int | None = None,
    timeout: int | None = None,
) -> Running:
    docker.ensure()
    ref = image or f"{project.image_repo}:latest"
    if docker.image(ref) is None:
        raise LitError(f"image {ref} does not exist", f"build it with `lit build {project.root}`")
    for old in docker.containers(f"{LABEL}={project.name}"):
        docker.remove_container(old.id)  # one warm container per function; its port is freed here
    if not port_free(port):
        raise LitError(f"port {port} on 127.0.0.1 is in use", "stop what holds it, or pass --port with a free port")
    mem = memory or project.function.memory
    args = run_args(project, port, mem, timeout or project.function.timeout)
    name = f"lit-{project.name}-{port}"
    container = docker.run(ref, args, name=name)
    if not _wait_listening(port, 15):
        logs = docker.logs(container)
        docker.remove_container(container)
        raise LitError(
            f"the container for {ref} exited or never listened on {port}:\n{logs[-2000:]}", "see its log above"
        )
    return Running(container, name, port, f"http://127.0.0.1:{port}{INVOKE_PATH}", ref, mem, cpu_share(mem))


def find(docker: Docker, project: Project) -> Running:
    docker.ensure()
    found = docker.containers(f"{LABEL}={project.name}")
    for c in found:
        info = docker.inspect_container(c.id) or {}
        if info.get("State", {}).get("Running"):
            port = int(c.labels.get("lit.port", "9000"))
            mem = int(c.labels.get("lit.memory", "0"))
            return Running(
                info["Id"],
                c.name,
                port,
                f"http://127.0.0.1:{port}{INVOKE_PATH}",
                info["Config"]["Image"],
                mem,
                cpu_share(mem),
            )
    raise LitError(f"{project.name} is not running locally", f"start it with `lit run {project.root}`")


def stop(docker: Docker, project: Project) -> list[str]:
    docker.ensure()
    removed = []
    for c in docker.containers(f"{LABEL}={project.name}"):
        docker.remove_container(c.id)
        removed.append(c.name)
    return removed


def post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
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


def _runtime_lines(logs: str, kind: str) -> list[dict[str, Any]]:
    lines = []
    for line in logs.splitlines():
        if line.startswith("{") and f'"event": "{kind}"' in line:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
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


def invoke(docker: Docker | None, running: Running, body: bytes, timeout: float = 960) -> Invocation:
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    t0 = time.perf_counter()
    status, raw = post(running.url, body, timeout)
    seconds = time.perf_counter() - t0
    try:
        payload: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw.decode(errors="replace")
    failed = status != 200 or (isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload)
    result = Invocation(status, payload, failed, seconds=round(seconds, 4))
    if docker is not None:
        for _ in range(20):  # the RIE writes REPORT just after it answers
            logs = docker.logs(running.container, since=since)
            result.request_id, result.report = parse_report(logs)
            if result.report:
                # The RIE's memory figures are placeholders (it reports MemorySize); use the
                # container's real peak, and the runtime's own init timing on a cold start.
                result.report.pop("max_memory_used_mb", None)
                result.report.pop("init_duration_ms", None)
                if (peak := cgroup_peak_mb(running.container)) is not None:
                    result.report["max_memory_used_mb"] = peak
                if inits := _runtime_lines(logs, "init"):
                    result.report["init_duration_ms"] = float(inits[-1]["ms"]["total"])
                if requests := _runtime_lines(logs, "request"):
                    result.report["max_rss_mb"] = float(requests[-1]["max_rss_mb"])
                break
            time.sleep(0.05)
    return result
