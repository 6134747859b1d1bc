"""SnapStart: what runs before Lambda snapshots an initialized environment and after it restores one.

awslambdaric (4.2.2) runs the lifecycle when Lambda sets AWS_LAMBDA_INITIALIZATION_TYPE=snap-start:
after the handler module is imported (the init), the callables registered with snapshot_restore_py's
`register_before_snapshot`, then `GET /runtime/restore/next` (the snapshot is taken while it waits),
then the `register_after_restore` callables. A failure before the snapshot is an init error
(Runtime.BeforeSnapshotError); after the restore, a `POST /runtime/restore/error`
(Runtime.AfterRestoreError), and Lambda answers the invoke with a SnapStartException.

Every environment restored from one snapshot starts with the same memory: whatever init made that
should differ between environments is made again here, before the user's `after_restore` hook:
- Python's and numpy's global random state (a user who seeds at init gets the same draws everywhere),
  and tempfile's cached name sequence;
- the S3 client, so that it reads the restored environment's credentials on its next use.
What cannot be renewed: the hash seed (PYTHONHASHSEED is fixed at process start). ONNX Runtime's and
MXNet's thread pools are kept: a restored environment has the memory, so the vCPUs, of the snapshotted one.
"""

from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
from typing import Any

from . import metrics
from .errors import ServiceError


class BeforeSnapshotError(ServiceError):
    """service.py's before_snapshot failed: Lambda fails the version's publication (init error)."""


class AfterRestoreError(ServiceError):
    """service.py's after_restore failed: Lambda answers the invoke with a SnapStartException."""


def register(app: Any) -> bool:
    """Register LIT's before-snapshot and after-restore steps (awslambdaric runs them only under
    SnapStart). False where snapshot_restore_py is not installed (not a LIT base image)."""
    try:
        import snapshot_restore_py
    except ImportError:
        return False
    snapshot_restore_py.register_before_snapshot(before_snapshot, app)
    snapshot_restore_py.register_after_restore(after_restore, app)
    return True


def before_snapshot(app: Any) -> None:
    _run(app, "before_snapshot", BeforeSnapshotError)
    # What init and the hook made lives as long as the process: out of the collector's scans (and
    # the pages it would otherwise touch after every restore).
    gc.collect()
    gc.freeze()


def after_restore(app: Any) -> None:
    t0 = time.perf_counter()
    renew(app)
    _run(app, "after_restore", AfterRestoreError)
    line = {
        "event": "restore",
        "function": app.ctx.settings.name,
        "restore_ms": round((time.perf_counter() - t0) * 1000, 2),
    }
    print(metrics.line(line), flush=True)  # an EMF record, as the init's: restore_ms is a metric


def renew(app: Any) -> None:
    """Make unique again what every environment restored from one snapshot would share."""
    random.seed()  # from os.urandom, which the kernel reseeds on restore
    tempfile._name_sequence = None  # type: ignore[attr-defined]  # a random.Random made once per process
    if (np := sys.modules.get("numpy")) is not None:
        np.random.seed()  # the legacy global RandomState (np.random.rand and friends)
    app.s3 = None  # made again on first use, with the restored environment's credentials


def _run(app: Any, name: str, error: type[ServiceError]) -> None:
    hook = app.hooks.get(name)
    if hook is None:
        return
    try:
        hook(app.ctx)
    except Exception as exc:
        raise error(f"service.py {name}(context) failed: {type(exc).__name__}: {exc}") from exc
