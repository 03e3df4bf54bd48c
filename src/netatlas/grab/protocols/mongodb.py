"""MongoDB grabber: the driver handshake (``hello`` over OP_MSG, falling back to the
legacy OP_QUERY ``isMaster`` that servers before 3.6 need), then ``buildInfo``. Both are
metadata commands MongoDB answers before authentication, so a reply says what the server
is, not whether its data is open: no database or collection is ever listed or read."""

from __future__ import annotations

import os
import ssl
import struct
from typing import Any

from ..codecs import bsonlite
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
MAX_MESSAGE = 64 * 1024
MAX_LIST = 16
_HELLO_KEYS = {
    "isWritablePrimary": "writable_primary",
    "ismaster": "writable_primary",
    "secondary": "secondary",
    "setName": "replica_set",
    "msg": "msg",  # "isdbgrid" on a mongos router
    "maxWireVersion": "max_wire_version",
    "minWireVersion": "min_wire_version",
    "maxBsonObjectSize": "max_bson_object_size",
    "readOnly": "read_only",
    "logicalSessionTimeoutMinutes": "session_timeout_minutes",
    "connectionId": "connection_id",
}
_BUILD_KEYS = {
    "version": "version",
    "gitVersion": "git_version",
    "allocator": "allocator",
    "javascriptEngine": "javascript_engine",
    "bits": "bits",
    "debug": "debug",
    "sysInfo": "sys_info",
}


def _header(length: int, request_id: int, op: int) -> bytes:
    return struct.pack("<iiii", length, request_id, 0, op)


def op_msg(command: dict[str, Any], request_id: int = 1) -> bytes:
    body = b"\x00\x00\x00\x00" + b"\x00" + bsonlite.encode({**command, "$db": "admin"})
    return _header(16 + len(body), request_id, OP_MSG) + body


def op_query(command: dict[str, Any], request_id: int = 1) -> bytes:
    """Legacy command: query on ``admin.$cmd``, numberToReturn -1 (one reply, closed)."""
    body = (b"\x00\x00\x00\x00" + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1)
            + bsonlite.encode(command))
    return _header(16 + len(body), request_id, OP_QUERY) + body


def message_complete(buf: bytes) -> bool:
    if len(buf) < 4:
        return False
    n = struct.unpack_from("<i", buf)[0]
    return n < 16 or n > MAX_MESSAGE or len(buf) >= n


def parse_reply(buf: bytes, request_id: int | None = None) -> tuple[int, dict[str, Any]]:
    """An OP_MSG or OP_REPLY message -> (opcode, its first document)."""
    if len(buf) < 16:
        raise ProtocolError(f"short MongoDB message: {buf[:16].hex()}")
    length, _rid, response_to, op = struct.unpack_from("<iiii", buf)
    if not 16 < length <= MAX_MESSAGE or length > len(buf):
        raise ProtocolError(f"bad MongoDB message length {length} ({len(buf)} bytes)")
    if request_id is not None and response_to != request_id:
        raise ProtocolError("MongoDB reply to another request")
    msg = buf[:length]
    if op == OP_MSG:
        if length < 21 or msg[20] != 0:
            raise ProtocolError("OP_MSG without a body section first")
        doc, end = bsonlite.decode(msg, 21)
        if end > length:
            raise ProtocolError("OP_MSG body past the message")
        return op, doc
    if op == OP_REPLY:
        if length < 36 + 5:
            raise ProtocolError("OP_REPLY without a document")
        if struct.unpack_from("<i", msg, 32)[0] < 1:
            raise ProtocolError("OP_REPLY returned no document")
        return op, bsonlite.decode(msg, 36)[0]
    raise ProtocolError(f"unexpected MongoDB opcode {op}")


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, list):
        return [_short(v) for v in value[:MAX_LIST] if isinstance(v, str | int | float)]
    return value if isinstance(value, int | float | bool) else None


def is_hello(doc: dict[str, Any]) -> bool:
    return any(k in doc for k in ("isWritablePrimary", "ismaster", "maxWireVersion"))


def hello_facts(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in _HELLO_KEYS.items():
        if key in doc and name not in out and (v := _short(doc[key])) is not None:
            out[name] = v
    if isinstance(doc.get("hosts"), list):
        out["hosts"] = _short(doc["hosts"])
    mechs = doc.get("saslSupportedMechs")
    if isinstance(mechs, list):
        out["auth_mechanisms"] = _short(mechs)
    return out


def build_facts(doc: dict[str, Any]) -> dict[str, Any]:
    """buildInfo -> version and build; an error reply -> the refusal, kept."""
    if not doc.get("ok") or not isinstance(doc.get("version"), str):
        return {"buildinfo_answered": False,
                "buildinfo_error": str(doc.get("errmsg", ""))[:200] or None}
    out: dict[str, Any] = {"buildinfo_answered": True}
    for key, name in _BUILD_KEYS.items():
        if key in doc and (v := _short(doc[key])) is not None:
            out[name] = v
    if isinstance(doc.get("modules"), list):
        out["modules"] = _short(doc["modules"])
    ssl_info = doc.get("openssl")
    if isinstance(ssl_info, dict) and isinstance(ssl_info.get("running"), str):
        out["openssl"] = ssl_info["running"][:100]
    env = doc.get("buildEnvironment")
    if isinstance(env, dict):
        for key in ("distmod", "target_arch", "target_os"):
            if isinstance(env.get(key), str):
                out[key] = env[key][:100]
    return out


class _Session:
    def __init__(self, conn: Conn, timeout: float, cap: int) -> None:
        self.conn, self.timeout, self.cap = conn, timeout, min(cap, MAX_MESSAGE)
        self.rid = int.from_bytes(os.urandom(3), "big") or 1
        self.raw: list[bytes] = []

    async def command(self, legacy: bool, command: dict[str, Any]) -> dict[str, Any]:
        self.rid += 1
        request = (op_query if legacy else op_msg)(command, self.rid)
        await self.conn.write(request, self.timeout)
        reply = await self.conn.read_until_done(message_complete, self.cap, self.timeout)
        self.raw.append(reply)
        return parse_reply(reply, self.rid)[1]


async def _handshake(ctx: GrabContext, legacy: bool) -> tuple[_Session, dict[str, Any]] | str:
    """hello (OP_MSG) or isMaster (OP_QUERY) on a fresh connection."""
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    s = _Session(conn, ctx.opts.read_timeout, ctx.opts.max_bytes)
    try:
        doc = await s.command(legacy, {"isMaster" if legacy else "hello": 1})
        if not legacy and not is_hello(doc):  # 3.6 - 4.4.1 know OP_MSG but not "hello"
            doc = await s.command(legacy, {"isMaster": 1})
        if not is_hello(doc):
            raise ProtocolError("no hello fields in the reply")
        return s, doc
    except TimeoutError:
        await conn.close()
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError, OSError, ProtocolError):
        await conn.close()
        # hung up without a byte: what a server before 3.6 does with OP_MSG
        return _HUNG_UP if not any(s.raw) else Outcome.NEGATIVE


_HUNG_UP = "hung-up"


async def probe(ctx: GrabContext) -> str:
    got = await _handshake(ctx, legacy=False)
    legacy = False
    if got == _HUNG_UP:
        got, legacy = await _handshake(ctx, legacy=True), True
    if got == _HUNG_UP:
        return Outcome.NEGATIVE
    if isinstance(got, str):
        return got
    s, hello = got
    try:
        section: dict[str, Any] = {"wire_protocol": "OP_QUERY" if legacy else "OP_MSG",
                                   **hello_facts(hello)}
        try:
            section.update(build_facts(await s.command(legacy, {"buildInfo": 1})))
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError, ProtocolError) as e:
            section.update(buildinfo_answered=False, buildinfo_error=str(e)[:200])
        ctx.result.service = "mongodb"
        ctx.result.data = s.raw[0]
        ctx.result.responses["mongodb-hello"] = s.raw[0]
        if len(s.raw) > 1:
            ctx.result.responses["mongodb-buildInfo"] = s.raw[-1]
        ctx.result.sections["mongodb"] = section
        return Outcome.POSITIVE
    finally:
        await s.conn.close()


PROTOCOL = Protocol(name="mongodb", ports=(27017, 27018), probe=probe)
