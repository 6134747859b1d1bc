"""Local runs only: end the runtime after it has been idle for LIT_IDLE_RECLAIM_S seconds, as Lambda
reclaims an idle execution environment. The RIE then runs init again on the next request: a cold
start, as on Lambda. `lit run --idle-reclaim` sets the variable, and the image's entrypoint sets
LIT_UNDER_RIE only when it starts the RIE, so on Lambda this never runs.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

RECLAIMED_EXIT = 75  # the exit status the RIE reports; `lit run`'s endpoint knows it for what it is


class Watch:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.idle_since = time.monotonic()
        self.busy = False
        self.lock = threading.Lock()

    def begin(self) -> None:
        with self.lock:
            self.busy = True

    def end(self) -> None:
        with self.lock:
            self.busy = False
            self.idle_since = time.monotonic()

    def expired(self) -> bool:
        with self.lock:
            return not self.busy and time.monotonic() - self.idle_since >= self.seconds

    def run(self) -> None:
        while True:
            time.sleep(min(0.25, self.seconds / 20))
            if self.expired():
                record = {"event": "reclaimed", "idle_s": round(time.monotonic() - self.idle_since, 3)}
                print(json.dumps(record), file=sys.stdout, flush=True)
                os._exit(RECLAIMED_EXIT)


def start() -> Watch | None:
    """The watch, running, when asked for under the RIE; else None."""
    value = os.environ.get("LIT_IDLE_RECLAIM_S")
    if not value or not os.environ.get("LIT_UNDER_RIE"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds <= 0:
        return None
    watch = Watch(seconds)
    threading.Thread(target=watch.run, name="lit-idle-reclaim", daemon=True).start()
    return watch
