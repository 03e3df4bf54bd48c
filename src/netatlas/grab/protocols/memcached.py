"""Memcached grabber: the text-protocol ``stats`` command."""

from __future__ import annotations

from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.exchange import exchange
from ..engine.registry import Protocol

STATS = b"stats\r\n"
KEEP = (
    "pid",
    "uptime",
    "time",
    "version",
    "libevent",
    "pointer_size",
    "curr_connections",
    "total_connections",
    "threads",
    "curr_items",
    "total_items",
    "bytes",
    "limit_maxbytes",
    "cmd_get",
    "cmd_set",
    "get_hits",
    "get_misses",
    "evictions",
)
# every kept stat except the version strings is a counter
_INTS = frozenset(KEEP) - {"version", "libevent"}


def reply_complete(buf: bytes) -> bool:
    return buf.endswith((b"END\r\n", b"ERROR\r\n")) or (
        buf.endswith(b"\r\n") and not buf.startswith(b"STAT ")
    )


def parse_stats(buf: bytes) -> dict[str, Any] | None:
    """``STAT name value`` lines -> the selected subset; None if it is not a stats reply."""
    if not buf.startswith(b"STAT "):
        return None
    out: dict[str, Any] = {}
    for row in buf.decode("utf-8", errors="replace").splitlines():
        parts = row.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT" and parts[1] in KEEP:
            value: Any = parts[2].strip()
            if parts[1] in _INTS and value.isdigit():
                value = int(value)
            out[parts[1]] = value
    return out


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, STATS, reply_complete)
    if isinstance(reply, str):
        return reply
    section = parse_stats(reply)
    if section is None:
        return Outcome.NEGATIVE
    ctx.result.service = "memcached"
    ctx.result.data = reply
    ctx.result.sections["memcached"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="memcached", ports=(11211,), probe=probe, unhinted="in-order")
