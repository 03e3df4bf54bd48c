"""ZooKeeper grabber: the ``srvr`` four-letter word (read-only server details), then
the root's children over a client session (``zookeeper_session``)."""

from __future__ import annotations

import re
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.registry import Protocol
from . import zookeeper_session

# ZooKeeper reads the first 4 bytes as a command word; the blank lines make the probe 8
# bytes, so PostgreSQL (which waits for 8) and line protocols answer it at once.
SRVR = b"srvr\r\n\r\n"
MAX_REPLY = 8192
_NOT_ALLOWED = b"is not executed because it is not in the whitelist"
_FIELDS = {
    "latency min/avg/max": "latency",
    "received": "received",
    "sent": "sent",
    "connections": "connections",
    "outstanding": "outstanding",
    "zxid": "zxid",
    "mode": "mode",
    "node count": "node_count",
    "proposal sizes last/min/max": "proposal_sizes",
}
_INTS = {"received", "sent", "connections", "outstanding", "node_count"}


def parse_srvr(buf: bytes) -> dict[str, Any]:
    """Reply to ``srvr`` -> version and state; a whitelist refusal is a fact too."""
    if _NOT_ALLOWED in buf[:200]:
        return {"srvr_allowed": False}
    text = buf[:MAX_REPLY].decode("utf-8", errors="replace")
    m = re.match(r"Zookeeper version: ([^\s,]+)(?:[^\n]*?built on ([^\n]+))?", text)
    if not m:
        raise ProtocolError(f"not a ZooKeeper srvr reply: {text[:60]!r}")
    out: dict[str, Any] = {"srvr_allowed": True, "version": m.group(1)[:100]}
    if m.group(2):
        out["build_date"] = m.group(2).strip()[:100]
    for line in text.splitlines()[1:40]:
        key, sep, value = line.partition(":")
        name = _FIELDS.get(key.strip().lower())
        if sep and name:
            v: Any = value.strip()[:100]
            out[name] = int(v) if name in _INTS and v.isdigit() else v
    return out


def srvr_complete(buf: bytes) -> bool:
    """ZooKeeper closes after the reply; stop early once its last line is in."""
    return buf.endswith(b"\n") and (b"Node count:" in buf or _NOT_ALLOWED in buf)


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, SRVR, srvr_complete, MAX_REPLY)
    if isinstance(reply, str):
        return reply
    try:
        section = parse_srvr(reply)
    except ProtocolError:
        return Outcome.NEGATIVE
    ctx.result.service = "zookeeper"
    ctx.result.data = reply
    ctx.result.responses["zookeeper-srvr"] = reply
    ctx.result.sections["zookeeper"] = section
    section.update(await zookeeper_session.list_root(ctx))  # as `zkCli ls /` would
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="zookeeper", ports=(2181,), probe=probe, unhinted="in-order")
