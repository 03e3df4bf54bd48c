"""AMQP 0-9-1 grabber: send the protocol header, read Connection.Start (the broker's
server-properties: product, version, platform) and hang up before any login."""

from __future__ import annotations

import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.registry import Protocol

HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE
MAX_FRAME = 128 * 1024
MAX_DEPTH = 4
MAX_ENTRIES = 256
PROPS = ("product", "version", "platform", "cluster_name", "copyright", "information")

# Field-table value types with a fixed-size encoding (RabbitMQ's spelling of 0-9-1).
_SIMPLE = {bytes([c]): ">" + f for c, f in zip(b"tbBsUuIilLfdT", "?bBhhHiIqqfdQ", strict=True)}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"truncated AMQP field at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def shortstr(self) -> str:
        return self.take(self.take(1)[0]).decode("utf-8", errors="replace")

    def longstr(self) -> bytes:
        return self.take(self.unpack(">I"))

    def value(self, depth: int) -> Any:
        t = self.take(1)
        if t in _SIMPLE:
            return self.unpack(_SIMPLE[t])
        if t == b"S":
            return self.longstr().decode("utf-8", errors="replace")[:500]
        if t == b"x":
            return self.longstr().hex()[:500]
        if t == b"D":
            scale, raw = self.unpack(">B"), self.unpack(">i")
            return raw / (10**scale) if scale < 20 else raw
        if t == b"V":
            return None
        if t == b"F":
            return self.table(depth + 1)
        if t == b"A":
            sub = _Reader(self.longstr())
            items: list[Any] = []
            while sub.pos < len(sub.data) and len(items) < MAX_ENTRIES:
                items.append(sub.value(depth + 1))
            return items
        raise ProtocolError(f"unknown AMQP field type {t!r}")

    def table(self, depth: int = 0) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise ProtocolError("AMQP field tables nested too deep")
        sub = _Reader(self.longstr())
        out: dict[str, Any] = {}
        while sub.pos < len(sub.data) and len(out) < MAX_ENTRIES:
            key = sub.shortstr()[:100]
            out[key] = sub.value(depth)
        return out


def frame_complete(buf: bytes) -> bool:
    if buf.startswith(b"AMQP") and len(buf) >= 8:
        return True  # the broker wants another protocol version and will close
    if len(buf) < 7:
        return False
    size = struct.unpack(">I", buf[3:7])[0]
    return size > MAX_FRAME or len(buf) >= 7 + size + 1  # oversized: stop, parse refuses


def parse_start(buf: bytes) -> dict[str, Any]:
    """Connection.Start frame -> amqp section; a protocol-header reply (version
    mismatch) is reported as such."""
    if buf.startswith(b"AMQP") and len(buf) >= 8:
        return {"protocol_mismatch": True, "server_protocol": list(buf[4:8])}
    r = _Reader(buf)
    ftype, channel, size = r.unpack(">B"), r.unpack(">H"), r.unpack(">I")
    if ftype != 1 or channel != 0 or size > MAX_FRAME:
        raise ProtocolError("not an AMQP method frame on channel 0")
    payload = _Reader(r.take(size))
    if r.take(1)[0] != FRAME_END:
        raise ProtocolError("AMQP frame-end missing")
    if (payload.unpack(">H"), payload.unpack(">H")) != (10, 10):
        raise ProtocolError("not Connection.Start")
    out: dict[str, Any] = {
        "version_major": payload.unpack(">B"),
        "version_minor": payload.unpack(">B"),
    }
    props = payload.table()
    for k in PROPS:
        if isinstance(props.get(k), str):
            out[k] = props[k]
    caps = props.get("capabilities")
    if isinstance(caps, dict):
        out["capabilities"] = sorted(k for k, v in caps.items() if v is True)[:64]
    out["mechanisms"] = payload.longstr().decode("utf-8", errors="replace").split()[:32]
    out["locales"] = payload.longstr().decode("utf-8", errors="replace").split()[:32]
    return out


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, HEADER, frame_complete, MAX_FRAME + 8)
    if isinstance(reply, str):
        return reply
    try:
        section = parse_start(reply)
    except ProtocolError:
        return Outcome.NEGATIVE
    ctx.result.service = "amqp"
    ctx.result.data = reply
    ctx.result.responses["amqp-header"] = reply
    ctx.result.sections["amqp"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="amqp", ports=(5672,), tls_ports=(5671,), probe=probe,
                    unhinted="in-order",
                    # a broker answers any junk (a TLS hello, a GET) with its own header
                    in_replies=lambda reply: reply.startswith(b"AMQP"))
