"""How many CPUs this process may really use: the ones it may run on (``os.sched_getaffinity``,
which ``os.cpu_count()`` ignores) and, in a container, the cgroup's CPU quota (``cpu.max``: a
quota of 200000 per 100000 µs is 2 CPUs, whatever the machine has). Pure Python."""
from __future__ import annotations

import math
import os

__all__ = ["usable_cpus", "cgroup_cpu_limit"]

CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "<quota> <period>" or "max <period>"
CFS_QUOTA_V1 = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"  # cgroup v1: -1 without a limit
CFS_PERIOD_V1 = "/sys/fs/cgroup/cpu/cpu.cfs_period_us"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_cpu_limit(
    cpu_max: str = CPU_MAX, quota_v1: str = CFS_QUOTA_V1, period_v1: str = CFS_PERIOD_V1
) -> int | None:
    """The cgroup's CPU quota rounded up to whole CPUs (at least 1), or None without one."""
    text = _read(cpu_max)
    if text is not None:
        parts = text.split()
        quota, period = (parts + ["100000"])[:2] if parts else ("max", "100000")
    else:
        quota, period = _read(quota_v1), _read(period_v1)
        if quota is None or period is None:
            return None
    try:
        q, p = int(quota), int(period)
    except (TypeError, ValueError):  # "max": no limit
        return None
    if q <= 0 or p <= 0:  # v1's -1: no limit
        return None
    return max(1, math.ceil(q / p))


def usable_cpus(affinity: set[int] | None = None, cpu_max: str = CPU_MAX, quota_v1: str = CFS_QUOTA_V1,
                period_v1: str = CFS_PERIOD_V1) -> int:
    """The smaller of the CPUs this process may run on and the cgroup's quota; at least 1."""
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except (AttributeError, OSError):  # not Linux
            affinity = set(range(os.cpu_count() or 1))
    n = max(1, len(affinity))
    limit = cgroup_cpu_limit(cpu_max, quota_v1, period_v1)
    return min(n, limit) if limit else n
