"""The source address this process scans from (a distributed scan's worker
``--source-ip``): every socket discover and grab open is bound to it, so each worker of
a cluster is seen — and records itself — as its own vantage point. Unset (the default),
the kernel picks the source address as always.

A context variable: set it inside the run it applies to (``asyncio.run`` copies it
into every task of that run).
"""

from __future__ import annotations

import socket
from contextvars import ContextVar

SOURCE_IP: ContextVar[str | None] = ContextVar("netatlas_source_ip", default=None)


def source_for(family: int) -> tuple[str, int] | None:
    """``(address, 0)`` to bind a new socket of ``family`` to, or None (none set, or
    the source is of the other address family)."""
    src = SOURCE_IP.get()
    if src is None or (":" in src) != (family == socket.AF_INET6):
        return None
    return (src, 0)


def bind_source(sock: socket.socket) -> None:
    if (addr := source_for(sock.family)) is not None:
        sock.bind(addr)
