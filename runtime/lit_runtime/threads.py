"""Size thread pools to the CPUs the function really has, before MXNet/OpenBLAS start.

Lambda gives one vCPU per 1,769 MB; a container's cgroup quota says the same locally. The host's
core count (what OpenMP would pick) oversubscribes a small function and slows it down.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

MB_PER_VCPU = 1769


def _cgroup_cpus() -> float | None:
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    host = os.cpu_count() or 1
    limits = [float(host)]
    if (quota := _cgroup_cpus()) is not None:
        limits.append(quota)
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if memory and memory.isdigit():
        limits.append(int(memory) / MB_PER_VCPU)
    return max(1, math.ceil(min(limits) - 0.05))


def configure() -> int:
    """Set the thread variables (user-set values win) and return the CPU count used."""
    cpus = available_cpus()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MXNET_CPU_WORKER_NTHREADS"):
        os.environ.setdefault(var, str(cpus))
    # One engine thread per op is plenty for small CPU functions; avoids idle worker pools.
    os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine" if cpus == 1 else "ThreadedEnginePerDevice")
    return cpus
