"""Thread pools follow the CPUs Lambda gives the function, not the host's core count."""

from __future__ import annotations

import pytest
from lit_runtime import threads

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("memory", "want"), [("128", 1), ("1769", 1), ("3008", 2), ("10240", 2)])
def test_memory_bounds_cpus(monkeypatch: pytest.MonkeyPatch, memory: str, want: int) -> None:
    monkeypatch.setattr(threads, "_cgroup_cpus", lambda: None)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
    assert threads.available_cpus() == want


def test_cgroup_quota_bounds_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(threads, "_cgroup_cpus", lambda: 0.5)
    assert threads.available_cpus() == 1


def test_configure_keeps_user_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS", "MXNET_ENGINE_TYPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    threads.configure()
    import os

    assert os.environ["OMP_NUM_THREADS"] == "7" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
