"""The one client for the Docker engine: the docker CLI, run as a subprocess.

The CLI (not docker-py) because it speaks to any engine version the user has and honours their
contexts, DOCKER_HOST and credential helpers. Every command goes through one runner, where a
missing docker, an engine that is not running and a timeout become an EngineError with a fix.
Containers are described by a RunSpec; only this module turns one into `docker run` flags.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from . import interrupt
from .errors import EngineError

NOT_RUNNING = (
    "start it (`sudo systemctl start docker`, or `dockerd &` where there is no systemd), "
    "or point DOCKER_HOST at a running engine"
)
# What the docker CLI says when it reaches no engine (`docker run` and buildx put a prefix before it).
# Matched at a line's start: a container's own output, which `docker run` passes on, is not the CLI.
ENGINE_DOWN = re.compile(r"^(?:docker: |ERROR: )?(?:Cannot connect to the Docker daemon|error during connect)", re.M)


# The classic builder's line after each step: the image that step made (or took from the cache).
STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12})$")
# ... and the line that starts a stage: "Step 3/9 : FROM lit-base:py3.11 AS deps"
STAGE = re.compile(r"^Step \d+/\d+ : FROM\s.*?(?:\s+AS\s+(\S+))?\s*$", re.I)
# The diff id of a layer that holds nothing (the classic builder commits one for some steps).
EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
SIZE = re.compile(r"^([\d.]+)\s*([kMGT]?B)$")
SIZE_UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def stages(build_log: list[str]) -> list[tuple[str, str]]:
    """(name, image id) of each stage a classic build's log shows finished: the image of its last
    step. A stage without `AS NAME` is named by its place, from 0."""
    found: list[tuple[str, str]] = []
    name, last = None, None
    for line in build_log:
        if m := STAGE.match(line.rstrip()):
            if name is not None and last is not None:
                found.append((name, last))
            name, last = m[1] or str(len(found)), None
        elif (m := STEP_ID.match(line.rstrip())) and name is not None:
            last = m[1]
    if name is not None and last is not None:
        found.append((name, last))
    return found


def parse_size(text: str) -> int:
    """docker's human size ("245.1MB", "0B") in bytes."""
    m = SIZE.match(text.strip())
    return round(float(m[1]) * SIZE_UNITS[m[2]]) if m else 0


class Stopped(EngineError):
    """A docker command ended by a signal (Ctrl-C, a kill, the OOM killer), not by what it ran."""


SIGNALLED = (130, 137, 143)  # 128 + SIGINT / SIGKILL / SIGTERM, as a shell reports them


def signalled(code: int) -> bool:
    return code < 0 or code in SIGNALLED


def interrupted(code: int) -> bool:
    """Whether a docker command (or the container it ran) was stopped by SIGINT: Ctrl-C reached it
    before it reached LIT, or only it. LIT then stops as if interrupted itself, and blames nothing."""
    return code in (130, -signal.SIGINT)


class TimedOut(EngineError):
    """A docker command gave no answer within its time limit."""


def check_engine(output: str) -> None:
    """Raise the one "not running" error when the docker CLI's output says it reached no engine."""
    if ENGINE_DOWN.search(output):
        raise EngineError("the Docker engine is not running", NOT_RUNNING)


class RegistryError(EngineError):
    """The registry refused a login or a push."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials (for ECR: typically an expired token)."""


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Publish:
    """A container port published on the host: on host_port, or on one the engine picks (None)."""

    container_port: int
    host_port: int | None = None
    host_ip: str = "127.0.0.1"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port or ''}:{self.container_port}"


@dataclass(frozen=True)
class RunSpec:
    """A container to run, as data: what it runs and what it may use. Only flags() speaks docker's dialect."""

    image: str
    command: tuple[str, ...] = ()
    name: str | None = None
    platform: str | None = None  # linux/amd64 or linux/arm64
    entrypoint: str | None = None
    network: str | None = None  # "none", "host"
    publish: Publish | None = None
    memory_mb: int | None = None
    memory_swap_mb: int | None = None  # memory plus swap; equal to memory_mb for no swap
    cpus: float | None = None
    read_only: bool = False
    tmpfs: Mapping[str, str] = field(default_factory=dict)  # path -> mount options
    user: str | None = None  # uid:gid
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    pids_limit: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, str] = field(default_factory=dict)  # host path -> container path[:ro]
    remove: bool = False  # --rm: the engine removes the container when it exits

    def flags(self) -> list[str]:
        """The `docker run` options for this spec (the image and its command come after them)."""
        joined = {"--memory", "--memory-swap", "--cpus", "--pids-limit"}  # written --flag=value
        memory = None if self.memory_mb is None else f"{self.memory_mb}m"
        swap = None if self.memory_swap_mb is None else f"{self.memory_swap_mb}m"
        options: list[tuple[str, object]] = [
            ("--name", self.name),
            ("--platform", self.platform),
            ("-p", self.publish),
            ("--network", self.network),
            ("--memory", memory),
            ("--memory-swap", swap),
            ("--cpus", self.cpus),
            ("--read-only", self.read_only or None),
            *(("--tmpfs", f"{path}:{options}") for path, options in self.tmpfs.items()),
            ("--user", self.user),
            *(("--cap-drop", capability) for capability in self.cap_drop),
            *(("--security-opt", option) for option in self.security_opt),
            ("--pids-limit", self.pids_limit),
            ("--entrypoint", self.entrypoint),
            *(("-v", f"{host}:{inside}") for host, inside in self.volumes.items()),
            *(("-e", f"{key}={value}") for key, value in self.env.items()),
            *(("--label", f"{key}={value}") for key, value in self.labels.items()),
        ]
        flags = ["--rm"] if self.remove else []
        for flag, value in options:
            if value is None or value == "":
                continue
            if value is True:
                flags.append(flag)
            else:
                flags += [f"{flag}={value}"] if flag in joined else [flag, str(value)]
        return flags


def repository_of(ref: str) -> str:
    """host[:port]/path[:tag] without the tag (a port's colon comes before the last slash)."""
    head, slash, last = ref.rpartition("/")
    return head + slash + last.split(":", 1)[0].split("@", 1)[0]


class Docker:
    def __init__(self, binary: str | None = None, config: str | None = None) -> None:
        chosen = binary or os.environ.get("LIT_DOCKER") or "docker"
        self.binary = shutil.which(chosen) or ""
        self._checked = False
        self.config = config  # a DOCKER_CONFIG directory for this client's commands; None: the user's

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The classic builder handles everything LIT's Dockerfiles need, on every engine; BuildKit
        # without the buildx plugin refuses to build at all.
        env.setdefault("DOCKER_BUILDKIT", "0")
        env.setdefault("DOCKER_CLI_HINTS", "false")
        if self.config:
            env["DOCKER_CONFIG"] = self.config
        return env

    def _argv(self, *args: str) -> list[str]:
        """The docker command line for `args`; raises EngineError when there is no docker to run."""
        if not self.binary:
            raise EngineError(
                "the docker command is not installed (or LIT_DOCKER names no program)",
                "install Docker (Debian: apt-get install docker.io), or fix LIT_DOCKER",
            )
        return [self.binary, *args]

    def _call(
        self, *args: str, input: bytes | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run one docker command to its end. No docker, no engine and no answer in time raise
        EngineError; any other non-zero exit is the caller's to read."""
        interrupt.check()
        try:
            proc = subprocess.run(
                self._argv(*args), capture_output=True, input=input, env=self._env(), timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise TimedOut(f"`docker {args[0]}` did not answer within {timeout:.0f}s", NOT_RUNNING) from None
        interrupt.check()
        if interrupted(proc.returncode):
            raise KeyboardInterrupt
        if proc.returncode != 0:
            check_engine(proc.stderr.decode(errors="replace"))
        return proc

    def _run(self, *args: str, check: bool = True, input: bytes | None = None, timeout: float | None = None) -> str:
        proc = self._call(*args, input=input, timeout=timeout)
        out = proc.stdout.decode(errors="replace")
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise EngineError(
                f"`docker {' '.join(args[:2])}` failed: {err or out.strip()}", "see the engine's message above"
            )
        return out

    def _stream(self, args: list[str], log: Callable[[str], None] | None) -> tuple[int, list[str]]:
        """Run a long docker command, handing each output line to `log` as it comes; raises
        EngineError when it found no engine."""
        interrupt.check()
        lines: list[str] = []
        argv = self._argv(*args)
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self._env()) as proc:
            assert proc.stdout is not None
            try:
                for raw in proc.stdout:
                    line = raw.decode(errors="replace").rstrip()
                    lines.append(line)
                    if log:
                        log(line)
                code = proc.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached us (and maybe not docker): stop docker's build or push too, so that
                # nothing finishes after we have cleaned up
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
        interrupt.check()
        if interrupted(code):
            raise KeyboardInterrupt
        if code != 0:
            check_engine("\n".join(lines[-15:]))
        return code, lines

    def ping(self, timeout: float | None = None) -> str:
        """The engine's version; raises EngineError when no engine answers (within `timeout` s)."""
        try:
            proc = self._call("version", "--format", "{{.Server.Version}}", timeout=timeout)
        except TimedOut:
            raise TimedOut(f"the Docker engine did not answer within {timeout:.0f}s", NOT_RUNNING) from None
        version = proc.stdout.decode().strip()
        if proc.returncode != 0 or not version:
            raise EngineError("the Docker engine is not running (no answer from `docker version`)", NOT_RUNNING)
        self._checked = True
        return version

    def buildx_version(self) -> str | None:
        """The buildx plugin's version line, or None when it is not installed."""
        try:
            return self._run("buildx", "version", timeout=15).strip()
        except EngineError:
            return None

    def ensure(self) -> None:
        if not self._checked:
            self.ping()

    # images
    def image(self, ref: str) -> dict[str, Any] | None:
        proc = self._call("image", "inspect", ref)
        if proc.returncode != 0:
            return None
        return dict(json.loads(proc.stdout)[0])

    def history(self, ref: str) -> list[dict[str, Any]]:
        out = self._run("history", "--no-trunc", "--human=false", "--format", "{{json .}}", ref)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    @contextmanager
    def save(self, ref: str) -> Iterator[IO[bytes]]:
        """`docker save ref` as a stream (the tar is never written to disk); raises EngineError on failure."""
        self.ensure()
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(self._argv("save", ref), stdout=subprocess.PIPE, stderr=errors, env=self._env())
            assert proc.stdout is not None
            try:
                yield proc.stdout
                while proc.stdout.read(1 << 20):  # a reader that stopped at the end marker leaves padding
                    pass
            except BaseException:
                proc.kill()
                raise
            finally:
                proc.stdout.close()
                code = proc.wait()
            if code != 0:
                errors.seek(0)
                err = errors.read().decode(errors="replace").strip()
                check_engine(err)
                raise EngineError(f"`docker save {ref}` failed: {err}", "check that the image exists (`docker images`)")

    def info(self, timeout: float = 10) -> dict[str, Any]:
        """The engine's `docker info` (storage root, driver, OS), as a dict."""
        return dict(json.loads(self._run("info", "--format", "{{json .}}", timeout=timeout) or "{}"))

    def pull(self, ref: str, platform: str | None = None) -> bool:
        return self._call("pull", "-q", *(["--platform", platform] if platform else []), ref).returncode == 0

    def references(self, pattern: str) -> list[str]:
        """Local REPOSITORY:TAG names matching a reference filter (e.g. '*/lit-digits')."""
        out = self._run("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={pattern}")
        return out.split()

    def dangling(self, *labels: str) -> list[str]:
        """Full ids of untagged top-level images carrying every label given (KEY=VALUE)."""
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        return self._run("images", "-q", "--no-trunc", "--filter", "dangling=true", *filters).split()

    def size(self, ref: str) -> int | None:
        """An image's size in bytes (with the layers it starts from); None when there is no such image."""
        info = self.image(ref)
        return None if info is None else int(info.get("Size", 0))

    def layer_sizes(self, ref: str) -> dict[str, int]:
        """Each layer's size in bytes, by the 12 hex digits of its diff id (as `docker push` names
        layers); {} when the history cannot be matched to the layers."""
        info = self.image(ref) or {}
        layers = [d for d in (info.get("RootFS") or {}).get("Layers") or [] if d != EMPTY_LAYER]
        sizes = [int(h["Size"]) for h in reversed(self.history(ref)) if int(h["Size"]) > 0]
        if not layers or len(layers) != len(sizes):
            return {}
        return {d.removeprefix("sha256:")[:12]: size for d, size in zip(layers, sizes)}

    def labelled(self, *labels: str) -> list[dict[str, Any]]:
        """The inspect data of every top-level image (tagged or not) carrying each label (KEY or KEY=VALUE)."""
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        ids = dict.fromkeys(self._run("images", "-q", "--no-trunc", *filters).split())
        return [info for image_id in ids if (info := self.image(image_id)) is not None]

    def unique_sizes(self) -> dict[str, int]:
        """Image id -> the bytes only it holds (what removing it frees), as `docker system df -v` counts."""
        out = self._run("system", "df", "-v", "--format", "{{json .}}", timeout=120)
        images = json.loads(out or "{}").get("Images") or []
        return {str(i.get("ID", "")): parse_size(str(i.get("UniqueSize", "0B"))) for i in images}

    def prune_stages(
        self,
        labels: tuple[str, ...],
        build_log: list[str],
        platform: str | None = None,
        name: Callable[[str], str] | None = None,
    ) -> int:
        """Name the build stages carrying `labels` that the build whose log is given made or used
        (`name(stage)`: the tag each gets, so that `docker images` says what they are, and a rebuild
        moves the tag to its own), then remove the untagged ones it did not use: a changed input
        leaves the old stage (0.5-0.8 GB) behind on every build otherwise. The ones just used stay,
        as the cache that keeps the next build fast, and so do other platforms' (`platform` given:
        linux/amd64 or linux/arm64), the cache of their builds."""
        if name is not None:
            for stage, image_id in stages(build_log):
                carried = ((self.image(image_id) or {}).get("Config") or {}).get("Labels") or {}
                if all(carried.get(k) == v for k, _, v in (label.partition("=") for label in labels)):
                    self.tag(image_id, name(stage))
        used = {m[1] for line in build_log if (m := STEP_ID.match(line.rstrip()))}
        stale = [i for i in self.dangling(*labels) if i.removeprefix("sha256:")[:12] not in used]
        if platform is not None:
            wanted = platform.split("/", 1)[1]
            stale = [i for i in stale if (self.image(i) or {}).get("Architecture", wanted) == wanted]
        for image_id in stale:
            self.remove_image(image_id)
        return len(stale)

    def remove_if_untagged(self, image_id: str | None) -> None:
        """Remove an image a build replaced once it has no tag left (kept while a container runs it)."""
        if image_id and not (self.image(image_id) or {}).get("RepoTags"):
            self.remove_image(image_id)

    def tag(self, src: str, dst: str) -> None:
        self._run("tag", src, dst)

    def remove_image(self, ref: str) -> None:
        self._run("image", "rm", ref, check=False)

    def build(
        self,
        context: Path,
        tag: str,
        build_args: dict[str, str] | None = None,
        log: Callable[[str], None] | None = None,
        platform: str | None = None,
    ) -> str:
        """Build context/Dockerfile as tag (for `platform`, e.g. linux/arm64, when given); stream the
        build log to `log`; return the image id."""
        args = ["build", "-t", tag, "--rm", "--force-rm", *(["--platform", platform] if platform else [])]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        args.append(str(context))
        code, lines = self._stream(args, log)
        if code != 0:
            tail = "\n".join(lines[-15:])
            if signalled(code):
                raise Stopped(
                    f"docker build of {tag} was stopped by a signal (exit code {code}), not by a failing step",
                    "nothing was tagged: run the build again (if nobody stopped it, the engine may be short of "
                    "memory: see `dmesg`)",
                )
            raise EngineError(
                f"docker build of {tag} failed:\n{tail}", "read the build log above; fix the step that failed"
            )
        info = self.image(tag)
        if info is None:
            raise EngineError(f"docker build reported success but {tag} does not exist", "re-run the build")
        return str(info["Id"])

    # registries
    def login(self, host: str, username: str, password: str) -> None:
        proc = self._call("login", "-u", username, "--password-stdin", host, input=password.encode())
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise RegistryError(f"docker login to {host} failed: {err}", "check the registry's address and credentials")

    def push(self, ref: str, log: Callable[[str], None] | None = None) -> tuple[str, int]:
        """Push ref; return (manifest digest, number of layers actually uploaded)."""
        code, lines = self._stream(["push", ref], log)
        text = "\n".join(lines)
        if code != 0:
            lowered = text.lower()
            if any(
                s in lowered for s in ("unauthorized", "no basic auth", "authentication required", "denied", "expired")
            ):
                host = ref.split("/", 1)[0]
                raise RegistryAuthError(
                    f"the registry {host} refused the push of {ref}: {lines[-1] if lines else ''}",
                    f"log in to it first: `docker login {host}` (for ECR, `lit push` without --registry logs in)",
                )
            raise RegistryError(f"docker push {ref} failed: {lines[-1] if lines else ''}", "see the push log above")
        digest = self.repo_digest(ref)
        if not digest:
            raise RegistryError(f"the engine records no registry digest for {ref} after its push", "re-run the push")
        uploaded = sum(1 for line in lines if line.endswith(": Pushed"))
        return digest, uploaded

    def repo_digest(self, ref: str) -> str | None:
        """The manifest digest the registry holds for ref's repository, as the engine recorded it at
        the push (RepoDigests), not as the push printed it."""
        repository = repository_of(ref)
        entries: list[str] = (self.image(ref) or {}).get("RepoDigests") or []
        for entry in entries:
            name, _, digest = entry.partition("@")
            if name == repository and digest.startswith("sha256:"):
                return digest
        return None

    # containers
    def run(self, spec: RunSpec) -> str:
        """Start the container in the background; return its id."""
        return self._run("run", "-d", *spec.flags(), spec.image, *spec.command).strip()

    def host_port(self, container: str, port: int) -> int:
        """The host port published for a container's port (published as 127.0.0.1::PORT)."""
        info = self.inspect_container(container) or {}
        bindings = (info.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
        for b in bindings:
            if b.get("HostIp") == "127.0.0.1" and b.get("HostPort"):
                return int(b["HostPort"])
        raise EngineError(f"container {container[:12]} has no port {port} published on 127.0.0.1", "see `docker ps`")

    def run_once(self, spec: RunSpec, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a throwaway container to completion (--rm); return its exit code and output."""
        self.ensure()
        flags = replace(spec, remove=True).flags()
        try:
            proc = self._call("run", *flags, spec.image, *spec.command, timeout=timeout)
        except TimedOut:
            raise TimedOut(
                f"a container of {spec.image} ran over {timeout:.0f} s", "see `docker ps`; is the engine overloaded?"
            ) from None
        out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def containers(self, label: str) -> list[Container]:
        out = self._run("ps", "-a", "--filter", f"label={label}", "--format", "{{json .}}")
        found = []
        for line in out.splitlines():
            row = json.loads(line)
            labels = dict(kv.split("=", 1) for kv in row.get("Labels", "").split(",") if "=" in kv)
            found.append(Container(row["ID"], row["Names"], labels))
        return found

    def inspect_container(self, ref: str) -> dict[str, Any] | None:
        proc = self._call("inspect", ref)
        return dict(json.loads(proc.stdout)[0]) if proc.returncode == 0 else None

    def logs(self, ref: str, since: str | None = None, timestamps: bool = False) -> str:
        args = ["logs", *(["--timestamps"] if timestamps else [])]
        if since:
            args += ["--since", since]
        proc = self._call(*args, ref)
        return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")

    def follow_logs(self, ref: str, since: str | None = None) -> Iterator[str]:
        """The container's output as it is written (stdout and stderr, with timestamps), until it stops."""
        args = ["logs", "--follow", "--timestamps", *(["--since", since] if since else []), ref]
        proc = subprocess.Popen(
            self._argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env(),
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        try:
            yield from proc.stdout
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()

    def remove_container(self, ref: str) -> None:
        self._run("rm", "-f", ref, check=False)
