"""Redis grabber: one RESP ``INFO``; records selected keys or that auth is required."""

from __future__ import annotations

from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.registry import Protocol

INFO = b"*1\r\n$4\r\nINFO\r\n"
INFO_KEYS = (
    "redis_version",
    "redis_mode",
    "os",
    "arch_bits",
    "tcp_port",
    "uptime_in_seconds",
    "connected_clients",
    "used_memory_human",
    "role",
    "redis_git_sha1",
    "redis_build_id",
    "executable",
    "config_file",
    "maxmemory_human",
)


def reply_complete(buf: bytes) -> bool:
    """A whole RESP simple/error/integer line, or a whole bulk string."""
    if not buf or b"\r\n" not in buf:
        return False
    head = buf.split(b"\r\n", 1)[0]
    if buf[:1] in (b"+", b"-", b":"):
        return True
    if buf[:1] == b"$":
        try:
            n = int(head[1:])
        except ValueError:
            return True  # not RESP: stop reading, parse will say so
        return n < 0 or len(buf) >= len(head) + 2 + n + 2
    return True


def parse_info_reply(buf: bytes) -> dict[str, Any]:
    """Reply to INFO -> the "redis" section. Raises ProtocolError if it is not RESP."""
    first = buf[:1]
    line = buf.split(b"\r\n", 1)[0].decode("utf-8", errors="replace")
    if first == b"-":
        msg = line[1:][:300]
        if msg.startswith("DENIED"):  # protected mode: no password, remote refused
            return {"auth_required": False, "protected_mode": True, "error": msg}
        needs_auth = msg.startswith(("NOAUTH", "WRONGPASS")) or "auth" in msg.lower()
        return {"auth_required": needs_auth, "error": msg}
    if first != b"$":
        raise ProtocolError(f"not a RESP bulk reply: {line[:60]!r}")
    try:
        n = int(line[1:])
    except ValueError as e:
        raise ProtocolError("bad RESP bulk length") from e
    if n < 0:
        raise ProtocolError("nil reply to INFO")
    body = buf[len(line) + 2 : len(line) + 2 + n].decode("utf-8", errors="replace")
    info: dict[str, str] = {}
    for row in body.splitlines():
        key, sep, value = row.partition(":")
        if sep and key in INFO_KEYS:
            info[key] = value.strip()
    return {"auth_required": False, "info": info, "truncated": len(buf) < len(line) + 4 + n}


async def probe(ctx: GrabContext) -> str:
    """Send INFO; a RESP reply means redis (and fills the section)."""
    reply = await exchange(ctx, INFO, reply_complete)
    if isinstance(reply, str):
        return reply
    if not reply_complete(reply):
        return Outcome.NEGATIVE
    if reply.startswith(b"$"):
        try:
            section = parse_info_reply(reply)
        except ProtocolError:
            return Outcome.NEGATIVE
        if not section["info"]:
            return Outcome.NEGATIVE
    elif reply.startswith((b"-NOAUTH", b"-DENIED", b"-WRONGPASS")) or (
        reply.startswith(b"-ERR") and b"auth" in reply[:300].lower()
    ):
        section = parse_info_reply(reply)
    else:
        return Outcome.NEGATIVE  # "-ERR unknown command", "ERROR": something else
    ctx.result.service = "redis"
    ctx.result.data = reply
    ctx.result.sections["redis"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="redis", ports=(6379, 6380), probe=probe, unhinted="in-order")
