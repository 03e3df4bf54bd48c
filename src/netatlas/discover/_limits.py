"""File-descriptor budget: each in-flight connect holds one socket."""

from __future__ import annotations

import os
import resource

_RESERVE = 64  # fds left for the rest of the process (stores, logs, grabbers)


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 16


def fd_budget(wanted: int, reserve: int = _RESERVE) -> int:
    """Raise the soft RLIMIT_NOFILE toward the hard limit if ``wanted`` sockets would
    not fit, and return how many concurrent sockets actually fit (at least 1)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = _open_fds() + reserve
    need = wanted + used
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - used))
