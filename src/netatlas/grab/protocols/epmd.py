"""Erlang Port Mapper Daemon: the NAMES request every Erlang node and ``epmd -names``
send. epmd answers anyone (it has no authentication) with its own port, then one line
per registered node, and hangs up. Sans-IO parser plus the probe."""

from __future__ import annotations

import re
import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.exchange import exchange
from ..engine.registry import Protocol

NAMES_REQ = b"\x00\x01n"  # length 1, EPMD_NAMES_REQ ('n')
MAX_REPLY = 16384
MAX_NODES = 50
_NODE = re.compile(r"^name (\S{1,255}) at port (\d{1,5})$")


def parse_names(buf: bytes, port: int | None = None) -> dict[str, Any] | None:
    """NAMES reply -> ``{"port", "nodes": [{"name", "port"}]}``, or None when these bytes
    are not one: the first 4 bytes are epmd's own port (``port``, when given, must be
    it), the rest lines ``name N at port P``."""
    if len(buf) < 4:
        return None
    (own,) = struct.unpack(">I", buf[:4])
    if not 0 < own < 65536 or (port is not None and own != port):
        return None
    nodes: list[dict[str, Any]] = []
    text = buf[4:MAX_REPLY].decode("latin-1")
    for line in text.split("\n"):
        if not line:
            continue
        m = _NODE.match(line)
        if m is None:
            return None
        if len(nodes) < MAX_NODES:
            nodes.append({"name": m.group(1), "port": int(m.group(2))})
    return {"port": own, "nodes": nodes}


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, NAMES_REQ, lambda b: False, MAX_REPLY)  # epmd hangs up
    if isinstance(reply, str):
        return reply
    section = parse_names(reply, ctx.ep.port)
    if section is None:
        return Outcome.NEGATIVE
    ctx.result.service = "epmd"
    ctx.result.data = reply
    ctx.result.responses["epmd"] = reply  # nmap's probe of the same bytes
    ctx.result.sections["epmd"] = section
    return Outcome.POSITIVE


# epmd never waits: it hangs up on anything but its own request (and nmap's epmd probe
# goes to port 4369 only), so it is asked only when everything was met by a hang-up.
PROTOCOL = Protocol(name="epmd", ports=(4369,), probe=probe, unhinted="hang-up-only")
