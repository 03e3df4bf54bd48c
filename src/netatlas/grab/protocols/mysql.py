"""MySQL/MariaDB: the server speaks first with a handshake (or an error) packet."""

from __future__ import annotations

import struct
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol


def is_handshake(greeting: bytes) -> bool:
    if len(greeting) < 5:
        return False
    length = int.from_bytes(greeting[:3], "little")
    return greeting[3] == 0 and 5 <= length + 4 <= 64 * 1024 and greeting[4] in (0x0A, 0xFF)


def parse_handshake(pkt: bytes) -> dict[str, Any]:
    """Protocol::Handshake v10, or the ERR packet a refused client gets first."""
    length = int.from_bytes(pkt[:3], "little")
    body = pkt[4 : 4 + length]
    if not body:
        raise ProtocolError("empty MySQL packet")
    if body[0] == 0xFF:
        code = struct.unpack("<H", body[1:3])[0] if len(body) >= 3 else None
        return {
            "error_code": code,
            "error_message": body[3:].decode("utf-8", errors="replace")[:300],
        }
    if body[0] != 0x0A:
        raise ProtocolError(f"unknown MySQL protocol version {body[0]}")
    end = body.find(b"\x00", 1)
    if end < 0:
        raise ProtocolError("unterminated server version")
    out: dict[str, Any] = {
        "protocol_version": 10,
        "server_version": body[1:end].decode("utf-8", errors="replace")[:100],
    }
    rest = body[end + 1 :]
    if len(rest) >= 4 + 8 + 1 + 2:
        out["connection_id"] = struct.unpack("<I", rest[:4])[0]
        caps = struct.unpack("<H", rest[13:15])[0]
        if len(rest) >= 4 + 8 + 1 + 2 + 1 + 2 + 2:
            out["character_set"] = rest[15]
            out["status_flags"] = struct.unpack("<H", rest[16:18])[0]
            caps |= struct.unpack("<H", rest[18:20])[0] << 16
            tail = rest[31:]  # auth-data-len(1) + reserved(10) skipped
            if caps & 0x80000:  # CLIENT_PLUGIN_AUTH: plugin name ends the packet
                parts = tail.split(b"\x00")
                if len(parts) >= 2:
                    out["auth_plugin"] = parts[1].decode("ascii", errors="replace")[:64]
        out["capabilities"] = caps
    return out


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "mysql"
    t = ctx.opts.read_timeout
    head = await conn.read_exactly(4, t)
    length = int.from_bytes(head[:3], "little")
    body = await conn.read_exactly(length, t)
    res.data = head + body
    res.sections["mysql"] = parse_handshake(head + body)


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if is_handshake(first) else Greeting.NO


PROTOCOL = Protocol(name="mysql", ports=(3306,), greeting=greeting, grab=grab,
                    binary_greeting=True)
