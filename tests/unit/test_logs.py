"""`lit logs --remote` without AWS: absurd --since values, pages streamed as they come, --follow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from lit import logs
from lit.errors import AwsError, LitError

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["99999999d", "1900-01-01", "400000d"])
def test_an_absurd_since_is_refused_cleanly(value: str) -> None:
    with pytest.raises(LitError, match="before 1970"):
        logs.since(value, NOW)
    assert logs.since("2h", NOW) == NOW - dt.timedelta(hours=2)


class Pages:
    """150,000 events in pages of 10,000, counting the pages CloudWatch was asked for."""

    def __init__(self, pages: int = 15, per: int = 10_000) -> None:
        self.asked = 0
        self.count, self.per = pages, per

    def pages(self, group: str, start: int | None, end: int | None, pattern: str | None) -> Iterator[list[dict]]:
        for p in range(self.count):
            self.asked += 1
            base = int(NOW.timestamp() * 1000) + p * self.per
            yield [
                {"timestamp": base + i, "eventId": f"{p}-{i}", "logStreamName": "s", "message": f"line {p}-{i}\n"}
                for i in range(self.per)
            ]


def test_remote_lines_stream_page_by_page() -> None:
    client = Pages()
    lines = logs.remote_lines(client, "fn", None, None)
    first = next(lines)
    assert first.message == "line 0-0" and client.asked == 1, "the first line prints before the next page is asked"
    assert sum(1 for _ in lines) + 1 == 150_000 and client.asked == 15


class Missing:
    def pages(self, *args: Any) -> Iterator[list[dict]]:
        error = AwsError("no log group", "x")
        error.code = "ResourceNotFoundException"
        raise error
        yield []


def test_a_missing_function_is_named_as_missing_not_as_quiet() -> None:
    with pytest.raises(AwsError, match="function fn does not exist"):
        list(logs.remote_lines(Missing(), "fn", None, None, exists=lambda: False))
    with pytest.raises(AwsError, match="fn has no CloudWatch logs yet"):
        list(logs.remote_lines(Missing(), "fn", None, None, exists=lambda: True))


def test_follow_prints_each_event_once_from_the_newest_minute() -> None:
    seen_starts: list[int | None] = []

    class Growing:
        polls = 0

        def pages(self, group: str, start: int | None, end: int | None, pattern: str | None) -> Iterator[list[dict]]:
            seen_starts.append(start)
            Growing.polls += 1
            now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
            yield [{"timestamp": now - 1000 * i, "eventId": f"e{Growing.polls}-{i}", "message": "m"} for i in range(3)]
            yield [{"timestamp": now - 5000, "eventId": "e1-0", "message": "again"}]  # an event seen before

    printed: list[logs.Line] = []
    logs.follow_remote(Growing(), "fn", None, None, printed.append, sleep=lambda _: None, polls=3)
    assert len(printed) == 9, "three new events a poll, the repeated one printed once"
    first = seen_starts[0]
    assert first is not None and dt.datetime.now(dt.UTC).timestamp() * 1000 - first < 70_000, "the newest minute"
