"""`lit logs`: the function's log lines, from the local instances (`lit run`) or, with --remote, from
the deployed function's CloudWatch Logs group. Both give the same lines: the runtime's JSON
records (init, one per request) and the platform's START / END / REPORT lines."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import local, units
from .docker import Docker
from .errors import AwsError, LitError
from .project import Project

POLL_SECONDS = 2.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FOLLOW_WINDOW = dt.timedelta(minutes=1)  # --follow starts with the newest minute, unless --since says
LATE = dt.timedelta(seconds=30)  # how far back each poll looks, for events that land late


@dataclass(frozen=True)
class Line:
    time: dt.datetime
    source: str  # the local instance, or the CloudWatch log stream
    message: str
    event_id: str = ""  # CloudWatch's id of the event (remote lines), so --follow prints each once

    def text(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" [{self.source}] {self.message}"


def since(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """'10m', '2h', '30s', '1d' ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    if not value.strip().replace(".", "").isdigit() and (ago := units.seconds(value)) is not None:
        try:
            when = now - dt.timedelta(seconds=ago)
        except OverflowError:
            when = EPOCH - dt.timedelta(days=1)
    else:
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise LitError(
                f"--since {value!r} is neither a duration nor a time",
                "e.g. --since 10m, 2h, 1d or 2026-11-25T18:00:00",
                exit_code=2,
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if when < EPOCH:
        raise LitError(
            f"--since {value!r} reaches back before 1970, further than any log",
            "give a duration such as 1h or 30d, or a time (CloudWatch keeps a function's logs as long as its "
            "log group's retention says)",
            exit_code=2,
        )
    return when


def wanted(message: str, request_id: str | None) -> bool:
    return request_id is None or request_id in message


# --- local -----------------------------------------------------------------------------------
def _instances(docker: Docker, project: Project) -> dict[str, str]:
    """Source name -> container id of the running function's instances (not the proxy)."""
    running = local.find(docker, project)
    if running.instances:
        return {f"instance:{port}": cid for port, cid in sorted(running.instances.items())}
    return {f"instance:{running.port}": running.container}


def _parse_docker(raw: str, source: str) -> Line | None:
    stamp, _, message = raw.rstrip("\n").partition(" ")
    try:
        when = dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return None
    return Line(when, source, message)


def local_lines(docker: Docker, project: Project, after: dt.datetime | None, request_id: str | None) -> list[Line]:
    found: list[Line] = []
    for source, cid in _instances(docker, project).items():
        raw = docker.logs(cid, since=after.isoformat() if after else None, timestamps=True)
        found += [line for text in raw.splitlines() if (line := _parse_docker(text, source))]
    return sorted((x for x in found if wanted(x.message, request_id)), key=lambda x: x.time)


def follow_local(
    docker: Docker, project: Project, after: dt.datetime | None, request_id: str | None, emit: Callable[[Line], None]
) -> None:
    """Print lines as the instances write them, until Ctrl-C or until every instance has stopped."""
    lines: queue.Queue[Line | None] = queue.Queue()
    sources = _instances(docker, project)

    def pump(source: str, cid: str) -> None:
        for text in docker.follow_logs(cid, since=after.isoformat() if after else None):
            if (line := _parse_docker(text, source)) is not None:
                lines.put(line)
        lines.put(None)

    for source, cid in sources.items():
        threading.Thread(target=pump, args=(source, cid), daemon=True).start()
    ended = 0
    while ended < len(sources):
        line = lines.get()
        if line is None:
            ended += 1
        elif wanted(line.message, request_id):
            emit(line)


# --- remote ----------------------------------------------------------------------------------
def group(name: str) -> str:
    return f"/aws/lambda/{name}"


def remote_lines(
    logs: Any,
    name: str,
    after: dt.datetime | None,
    request_id: str | None,
    before: dt.datetime | None = None,
    exists: Callable[[], bool] | None = None,
) -> Iterator[Line]:
    """The group's lines, page by page as CloudWatch answers (each page in time order): the first
    prints at once, and memory holds one page, however many events match."""
    start = int(after.timestamp() * 1000) if after else None
    end = int(before.timestamp() * 1000) if before else None
    pattern = f'"{request_id}"' if request_id else None
    try:
        for page in logs.pages(group(name), start, end, pattern):
            for e in page:
                when = dt.datetime.fromtimestamp(e["timestamp"] / 1000, dt.UTC)
                source, message = e.get("logStreamName", ""), e["message"].rstrip("\n")
                event_id = e.get("eventId", f"{e['timestamp']}:{source}:{message}")
                if wanted(message, request_id):
                    yield Line(when, source, message, event_id)
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        if exists is not None and not exists():
            raise AwsError(
                f"function {name} does not exist (in this account and region)",
                "check the region (--region or AWS_REGION), or deploy it with `lit deploy`",
            ) from None
        raise AwsError(
            f"{name} has no CloudWatch logs yet (no log group {group(name)})",
            "invoke it first (`lit invoke DIR --remote`), or check the region; a function writes its "
            "log group on its first invoke",
        ) from None


def follow_remote(
    logs: Any,
    name: str,
    after: dt.datetime | None,
    request_id: str | None,
    emit: Callable[[Line], None],
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
    exists: Callable[[], bool] | None = None,
) -> None:
    """Poll the log group (every 2 s) and print new events once each, until Ctrl-C (or `polls`
    polls). It starts with the newest minute (or at `after`), and remembers only the events of the
    window it looks back over, so its memory stays bounded however long it runs."""
    seen: dict[str, dt.datetime] = {}
    cursor = after or dt.datetime.now(dt.UTC) - FOLLOW_WINDOW
    n = 0
    while polls is None or n < polls:
        n += 1
        for line in remote_lines(logs, name, cursor, request_id, exists=exists):
            if line.event_id not in seen:
                seen[line.event_id] = line.time
                emit(line)
                # events can land late and out of order: look back a little each time
                cursor = max(cursor, line.time - LATE)
        seen = {k: t for k, t in seen.items() if t >= cursor}
        sleep(POLL_SECONDS)
