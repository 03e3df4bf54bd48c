"""MySQL / MariaDB: ``root`` with an empty password, one HandshakeResponse41.

With an empty password the client's auth response is empty whatever the plugin
(mysql_native_password, caching_sha2_password, ed25519): no hash is computed, no
password crosses the wire. An auth-switch request is answered with the same empty
response; anything the server sends is read packet by packet, each capped."""

from __future__ import annotations

import struct

from ...grab.engine.conn import Conn
from ...grab.engine.errors import ProtocolError
from ...grab.protocols.mysql import parse_handshake
from . import Credential, DefaultLogin, Limits, Target, register
from ._wire import opened

CLIENT_LONG_PASSWORD = 0x1
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
ACCESS_DENIED = 1045


async def _packet(conn: Conn, limits: Limits) -> tuple[int, bytes]:
    head = await conn.read_exactly(4, limits.read_timeout)
    length = int.from_bytes(head[:3], "little")
    if not 0 < length <= limits.max_bytes:
        raise ProtocolError(f"MySQL packet of {length} bytes (cap {limits.max_bytes})")
    return head[3], await conn.read_exactly(length, limits.read_timeout)


def _frame(seq: int, body: bytes) -> bytes:
    return len(body).to_bytes(3, "little") + bytes([seq & 0xFF]) + body


def handshake_response(user: str, server_caps: int) -> bytes:
    caps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
    plugin = b""
    if server_caps & CLIENT_PLUGIN_AUTH:
        caps |= CLIENT_PLUGIN_AUTH
        plugin = b"mysql_native_password\x00"
    return (struct.pack("<IIB", caps, 16 * 1024 * 1024, 33) + b"\x00" * 23
            + user.encode() + b"\x00" + b"\x00" + plugin)  # auth response: 0 bytes


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    if cred.secret:
        raise ValueError("this family only sends an empty password")
    async with opened(target, limits) as conn:
        seq, body = await _packet(conn, limits)
        hello = parse_handshake(_frame(seq, body))
        if "error_code" in hello:  # refused before any login (host not allowed, ...)
            raise ProtocolError(f"server refused the connection: {hello['error_code']}")
        await conn.write(_frame(seq + 1, handshake_response(cred.user,
                                                            hello.get("capabilities", 0))),
                         limits.read_timeout)
        for _ in range(4):  # OK, ERR, or at most a switch and a fast-auth note first
            seq, body = await _packet(conn, limits)
            if body[0] == 0x00:
                await conn.write(_frame(0, b"\x01"), limits.read_timeout)  # COM_QUIT
                return True
            if body[0] == 0xFF:
                code = struct.unpack("<H", body[1:3])[0] if len(body) >= 3 else None
                if code == ACCESS_DENIED:
                    return False
                raise ProtocolError(f"MySQL error {code} during login")
            if body[0] == 0xFE:  # auth switch: the empty response again, next sequence
                await conn.write(_frame(seq + 1, b""), limits.read_timeout)
            elif body[:1] == b"\x01" and body[1:2] == b"\x03":
                continue  # caching_sha2 fast-auth success; the OK follows
            else:
                raise ProtocolError(f"unexpected MySQL reply 0x{body[0]:02x} during login")
    raise ProtocolError("no OK or ERR after four packets")


def applies(t: Target) -> bool:
    return t.service == "mysql" and not t.tls


FAMILY = register(DefaultLogin(
    "MySQL/MariaDB", applies, (Credential("root", "", "empty"),), attempt))
