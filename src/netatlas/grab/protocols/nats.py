"""NATS grabber: the server speaks first with ``INFO {json}``; we read it and leave
without CONNECT."""

from __future__ import annotations

import json
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol

MAX_LINE = 32 * 1024
KEEP = (
    "server_id",
    "server_name",
    "version",
    "go",
    "proto",
    "git_commit",
    "host",
    "port",
    "headers",
    "auth_required",
    "tls_required",
    "tls_available",
    "max_payload",
    "jetstream",
    "cluster",
    "domain",
    "xkey",
    "ldm",
)


def is_info(greeting: bytes) -> bool:
    return greeting[:6].upper() == b"INFO {" or greeting[:5].upper() == b"INFO\t"


def parse_info(line: bytes) -> dict[str, Any]:
    """``INFO {...}\\r\\n`` -> the selected server facts."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if not text[:4].upper() == "INFO" or "{" not in text:
        raise ProtocolError(f"not a NATS INFO line: {text[:60]!r}")
    try:
        info = json.loads(text[text.index("{") :])
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"bad NATS INFO json: {e}"[:200]) from e
    if not isinstance(info, dict):
        raise ProtocolError("NATS INFO is not an object")
    out: dict[str, Any] = {}
    for k in KEEP:
        v = info.get(k)
        if isinstance(v, str):
            out[k] = v[:200]
        elif isinstance(v, bool | int | float):
            out[k] = v
    out.setdefault("auth_required", False)
    return out


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "nats"
    line = await conn.read_until(b"\n", min(MAX_LINE, ctx.opts.max_bytes), ctx.opts.read_timeout)
    res.data = line
    if not line.endswith(b"\n"):
        raise ProtocolError("NATS INFO line too long or cut short")
    res.sections["nats"] = parse_info(line)


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if is_info(first) else Greeting.NO


PROTOCOL = Protocol(name="nats", ports=(4222,), greeting=greeting, grab=grab)
