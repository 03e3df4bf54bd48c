"""ZooKeeper's client protocol, as far as ``zkCli ls /`` goes: open a session, list the
children of the root, close the session. What any client sends first; nothing is
written. A server that requires authentication (SASL) refuses or drops the request, so
an answered ``getChildren("/")`` is what proves anonymous read access.

Sans-IO codec (jute: big-endian ints and longs, length-prefixed buffers and strings,
each packet framed by a 4-byte length) plus one small async driver."""

from __future__ import annotations

import contextlib
import ssl
import struct
from typing import Any

from ..engine.context import GrabContext
from ..engine.errors import ProtocolError

PART_OF = "zookeeper"  # part of that protocol, not one of its own (protocols/__init__.py)

SESSION_TIMEOUT_MS = 5000
GET_CHILDREN = 8  # OpCode.getChildren
CLOSE_SESSION = -11  # OpCode.closeSession
MAX_FRAME = 64 * 1024
MAX_CHILDREN = 50  # names kept (the evidence needs a few)
MAX_NAME = 100


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def connect_request() -> bytes:
    """ConnectRequest: protocol 0, no zxid seen, our timeout, a new session (id 0, an
    all-zero password), not read-only."""
    return frame(struct.pack(">iqiqi", 0, 0, SESSION_TIMEOUT_MS, 0, 16) + bytes(16) + b"\0")


def parse_connect_response(body: bytes) -> dict[str, Any]:
    """ConnectResponse -> negotiated timeout and session id (0 timeout: refused)."""
    if len(body) < 20:
        raise ProtocolError(f"short ConnectResponse ({len(body)} bytes)")
    proto, timeout, session = struct.unpack_from(">iiq", body)
    (pw_len,) = struct.unpack_from(">i", body, 16)
    if proto != 0 or not 0 <= pw_len <= 64 or len(body) < 20 + pw_len:
        raise ProtocolError("not a ZooKeeper ConnectResponse")
    return {"timeout_ms": timeout, "session_id": f"0x{session & (2**64 - 1):x}"}


def get_children_request(xid: int, path: str = "/") -> bytes:
    raw = path.encode()
    return frame(struct.pack(">ii", xid, GET_CHILDREN) + struct.pack(">i", len(raw)) + raw
                 + b"\0")


def close_request(xid: int) -> bytes:
    return frame(struct.pack(">ii", xid, CLOSE_SESSION))


def parse_children_reply(body: bytes, xid: int) -> tuple[int, list[str]]:
    """ReplyHeader (xid, zxid, err) and, when err is 0, the vector of child names."""
    if len(body) < 16:
        raise ProtocolError(f"short reply ({len(body)} bytes)")
    got_xid, _zxid, err = struct.unpack_from(">iqi", body)
    if got_xid != xid:
        raise ProtocolError(f"reply to xid {got_xid}, not {xid}")
    if err != 0:
        return err, []
    if len(body) < 20:
        raise ProtocolError("reply without its children vector")
    (count,) = struct.unpack_from(">i", body, 16)
    if count < 0:
        return 0, []
    names: list[str] = []
    off = 20
    for _ in range(min(count, MAX_CHILDREN)):
        if off + 4 > len(body):
            raise ProtocolError("children vector cut short")
        (n,) = struct.unpack_from(">i", body, off)
        off += 4
        if n < 0 or off + n > len(body):
            raise ProtocolError("bad child name length")
        names.append(body[off:off + n].decode("utf-8", errors="replace")[:MAX_NAME])
        off += n
    return 0, names


async def _read_frame(conn: Any, timeout: float) -> bytes:
    (n,) = struct.unpack(">i", await conn.read_exactly(4, timeout))
    if not 0 <= n <= MAX_FRAME:
        raise ProtocolError(f"frame length {n}")
    return await conn.read_exactly(n, timeout) if n else b""


async def list_root(ctx: GrabContext) -> dict[str, Any]:
    """``{"session": bool, "root_readable": bool, "root_children": [...], "error": code}``
    from one short session on a fresh connection; ``{}`` when it could not be opened."""
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return {}
    t = ctx.opts.read_timeout
    out: dict[str, Any] = {}
    try:
        await conn.write(connect_request(), t)
        session = parse_connect_response(await _read_frame(conn, t))
        out["session"] = session["timeout_ms"] > 0
        if not out["session"]:
            return out
        await conn.write(get_children_request(1), t)
        err, children = parse_children_reply(await _read_frame(conn, t), 1)
        out["root_readable"] = err == 0
        if err:
            out["error"] = err
        else:
            out["root_children"] = children
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
            await conn.write(close_request(2), min(t, 0.5))
    except (ProtocolError, TimeoutError, ConnectionError, ssl.SSLError, OSError):
        out.setdefault("root_readable", False)
    finally:
        await conn.close()
    return out
