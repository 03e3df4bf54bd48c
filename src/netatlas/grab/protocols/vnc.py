"""VNC (RFB) grabber: the server's ProtocolVersion and the security types it offers.
We answer with a version and stop before choosing a security type (no auth)."""

from __future__ import annotations

import re
import struct
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol

MAX_REASON = 1024
SECURITY_TYPES = {
    0: "Invalid",
    1: "None",
    2: "VNC Authentication",
    5: "RA2",
    6: "RA2ne",
    16: "Tight",
    17: "Ultra",
    18: "TLS",
    19: "VeNCrypt",
    20: "GTK-VNC SASL",
    21: "MD5 hash",
    22: "Colin Dean xvp",
    30: "Apple Remote Desktop",
    113: "MSLogon II",
}
_VERSION = re.compile(rb"RFB (\d{3})\.(\d{3})\n")


def parse_version(buf: bytes) -> tuple[int, int]:
    """The 12-byte ``RFB xxx.yyy\\n`` -> (major, minor)."""
    m = _VERSION.match(buf[:12])
    if not m:
        raise ProtocolError(f"not an RFB ProtocolVersion: {buf[:12]!r}")
    return int(m.group(1)), int(m.group(2))


def client_version(major: int, minor: int) -> bytes:
    """The highest of 3.3 / 3.7 / 3.8 the server accepts (3.889 Apple is 3.8-like)."""
    if (major, minor) >= (3, 8):
        return b"RFB 003.008\n"
    if (major, minor) >= (3, 7):
        return b"RFB 003.007\n"
    return b"RFB 003.003\n"


def security_needed(buf: bytes, client_minor: int) -> int:
    """How many bytes the security message is in all, given what arrived (sans-IO):
    at least len(buf)+1 while its lengths are not yet known."""
    if client_minor < 7:
        if len(buf) < 4:
            return 4
        if struct.unpack(">I", buf[:4])[0] != 0:
            return 4
        if len(buf) < 8:
            return 8
        return 8 + min(struct.unpack(">I", buf[4:8])[0], MAX_REASON)
    if not buf:
        return 1
    if buf[0]:
        return 1 + buf[0]
    if len(buf) < 5:
        return 5
    return 5 + min(struct.unpack(">I", buf[1:5])[0], MAX_REASON)


def parse_security(buf: bytes, client_minor: int) -> dict[str, Any]:
    """The server's security-types message (3.7+) or chosen type (3.3)."""
    need = security_needed(buf, client_minor)
    if len(buf) < need:
        raise ProtocolError(f"truncated RFB security message ({len(buf)}/{need} bytes)")
    if client_minor < 7:
        types = [struct.unpack(">I", buf[:4])[0]]
        reason_at = 8
    else:
        types = list(buf[1 : 1 + buf[0]])
        reason_at = 5
    out: dict[str, Any] = {}
    if types in ([0], []):  # 3.3: type 0; 3.7+: an empty list -- then a reason follows
        out["security_types"] = []
        out["error"] = buf[reason_at:need].decode("utf-8", errors="replace")
        return out
    out["security_types"] = types
    out["security_type_names"] = [SECURITY_TYPES.get(t, f"unknown-{t}") for t in types]
    out["auth_required"] = 1 not in types
    return out


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "vnc"
    t = ctx.opts.read_timeout
    head = await conn.read_exactly(12, t)
    res.data = head
    major, minor = parse_version(head)
    section: dict[str, Any] = {"protocol_version": f"{major:03d}.{minor:03d}"}
    res.sections["vnc"] = section
    ours = client_version(major, minor)
    cminor = int(ours[8:11])
    try:
        await conn.write(ours, t)
        buf = await conn.read_until_done(
            lambda b: len(b) >= security_needed(b, cminor), 5 + 255 + MAX_REASON, t
        )
        section.update(parse_security(buf, cminor))
    except (TimeoutError, ConnectionError, ProtocolError) as e:
        section["security_error"] = f"{type(e).__name__}: {e}"[:200]


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if first.startswith(b"RFB ") else Greeting.NO


PROTOCOL = Protocol(name="vnc", ports=(5900, 5901), greeting=greeting, grab=grab)
