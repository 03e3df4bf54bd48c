"""Cassandra / ScyllaDB grabber (CQL native protocol): what a driver does on
connecting. OPTIONS -> SUPPORTED (CQL and protocol versions, compressions; ScyllaDB
adds its SCYLLA_* options), then STARTUP -> READY (no authenticator) or AUTHENTICATE
(naming the authenticator class). When READY, the query every driver sends next,
``SELECT cluster_name, release_version FROM system.local``, names the release.

Byte layouts: apache/cassandra doc/native_protocol_v4.spec (section 2: the 9-byte
frame header; 3: notations; 4.1.1, 4.1.3, 4.1.4: STARTUP, OPTIONS, QUERY; 4.2: ERROR,
READY, AUTHENTICATE, SUPPORTED, RESULT Rows; 9: error codes) and native_protocol_v5
.spec 2.3.1 (the handshake stays in the legacy frame format: OPTIONS and STARTUP and
their answers look the same in v5; only what follows READY is framed anew, so v5
stops there). We speak v4 (Cassandra 2.2 to 5.x, ScyllaDB); a server refusing it
answers a protocol ERROR in a frame of a version it speaks, and we retry with that.
"""

from __future__ import annotations

import re
import ssl
import struct
from typing import Any

from ..codecs.cursor import Cursor, Truncated
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

FIRST_VERSION, LOWEST, HIGHEST = 4, 3, 6
OP_ERROR, OP_STARTUP, OP_READY, OP_AUTHENTICATE = 0x00, 0x01, 0x02, 0x03
OP_OPTIONS, OP_SUPPORTED, OP_QUERY, OP_RESULT = 0x05, 0x06, 0x07, 0x08
ERR_PROTOCOL = 0x000A
HEADER = 9
MAX_BODY = 256 << 20  # the spec's frame limit; we read our cap of it
MAX_OPTIONS, MAX_VALUES, MAX_TEXT = 64, 16, 200
LOCAL_QUERY = b"SELECT cluster_name, release_version, data_center FROM system.local"
ROWS = 0x0002
CONSISTENCY_ONE = 0x0001
_LISTED = re.compile(r"\b(\d{1,2})/v\d")  # "4/v4" in a version refusal (3.10+)
_GREATEST = re.compile(r"(?:the greatest is|highest supported is) (\d{1,2})")
_SIMPLE_TYPES = set(range(0x0001, 0x0016))  # ascii .. duration: no type parameters


def frame(version: int, stream: int, opcode: int, body: bytes = b"") -> bytes:
    """A request frame: version (high bit 0), flags 0, stream, opcode, length, body."""
    return struct.pack(">BBhBi", version, 0, stream, opcode, len(body)) + body


def string_map(entries: dict[str, str]) -> bytes:
    out = struct.pack(">H", len(entries))
    for k, v in entries.items():
        for s in (k, v):
            raw = s.encode()
            out += struct.pack(">H", len(raw)) + raw
    return out


def options_request(version: int) -> bytes:
    return frame(version, 0, OP_OPTIONS)


def startup_request(version: int) -> bytes:
    return frame(version, 1, OP_STARTUP, string_map({"CQL_VERSION": "3.0.0"}))


def query_request(version: int) -> bytes:
    body = struct.pack(">i", len(LOCAL_QUERY)) + LOCAL_QUERY
    return frame(version, 2, OP_QUERY, body + struct.pack(">HB", CONSISTENCY_ONE, 0))


def header(buf: bytes) -> tuple[int, int, int, int, int] | None:
    """(version, flags, stream, opcode, length) of a response frame, or None when these
    bytes cannot be one (request bit clear, an unknown version or opcode). Versions 1
    and 2 (Cassandra 1.2 / 2.0, answering our v4 with a refusal) have a one-byte stream:
    an 8-byte header."""
    if len(buf) < 8 or not buf[0] & 0x80:
        return None
    v = buf[0] & 0x7F
    if v <= 2:
        flags, stream, opcode, length = struct.unpack(">BbBi", buf[1:8])
    elif len(buf) < HEADER:
        return None
    else:
        flags, stream, opcode, length = struct.unpack(">BhBi", buf[1:HEADER])
    if not 1 <= v <= 0x3F or opcode > 0x10 or not 0 <= length <= MAX_BODY:
        return None
    return v, flags, stream, opcode, length


def header_size(version: int) -> int:
    return 8 if version <= 2 else HEADER


def frame_complete(buf: bytes) -> bool:
    if len(buf) < HEADER:
        return False
    h = header(buf)
    return h is None or len(buf) >= header_size(h[0]) + h[4]


def looks_like_error(reply: bytes) -> bool:
    """A CQL server's answer to bytes it cannot read (a GET, a TLS hello): an ERROR
    frame, protocol error (0x000A) or, before Cassandra 2.2, server error (0x0000)
    quoting the ProtocolException. Gives Cassandra away in other probes' replies."""
    h = header(reply)
    if h is None or h[3] != OP_ERROR:
        return False
    body = reply[header_size(h[0]):]
    return body[:4] in (struct.pack(">i", ERR_PROTOCOL), b"\0\0\0\0") and \
        b"protocol version" in body[:400].lower()


def _string(c: Cursor) -> str:
    return c.take(c.u16())[:MAX_TEXT].decode("utf-8", "replace")


def _body(buf: bytes) -> tuple[int, int, Cursor]:
    """-> (version, opcode, cursor over the body past any tracing id and warnings)."""
    h = header(buf)
    if h is None:
        raise ProtocolError(f"not a CQL response frame: {buf[:HEADER].hex()}")
    version, flags, _stream, opcode, length = h
    if flags & 0x01:
        raise ProtocolError("compressed frame, though we asked for no compression")
    size = header_size(version)
    if len(buf) < size + length:
        raise Truncated(f"CQL frame of {length} bytes cut at {len(buf) - size}")
    c = Cursor(buf[: size + length], size)
    if flags & 0x02:
        c.take(16)  # tracing id
    if flags & 0x08:
        for _ in range(c.u16()):  # warnings
            _string(c)
    return version, opcode, c


def parse_error(c: Cursor) -> dict[str, Any]:
    code = c.i32()
    return {"code": code, "message": _string(c)}


def parse_supported(c: Cursor) -> dict[str, list[str]]:
    """[string multimap] -> {option: [values]}, capped."""
    out: dict[str, list[str]] = {}
    for _ in range(c.u16()):
        key = _string(c)
        values = [_string(c) for _ in range(c.u16())]
        if len(out) < MAX_OPTIONS:
            out[key] = values[:MAX_VALUES]
    return out


def parse_reply(buf: bytes) -> tuple[int, int, dict[str, Any]]:
    """One response frame -> (version, opcode, what it says)."""
    version, opcode, c = _body(buf)
    if opcode == OP_ERROR:
        return version, opcode, parse_error(c)
    if opcode == OP_SUPPORTED:
        return version, opcode, {"supported": parse_supported(c)}
    if opcode == OP_AUTHENTICATE:
        return version, opcode, {"authenticator": _string(c)}
    if opcode == OP_READY:
        return version, opcode, {}
    if opcode == OP_RESULT:
        return version, opcode, parse_rows(c)
    raise ProtocolError(f"unexpected CQL opcode {opcode:#x}")


def _skip_type(c: Cursor, depth: int = 0) -> None:
    kind = c.u16()
    if depth > 4:
        raise ProtocolError("CQL type nested too deep")
    if kind == 0x0000:
        _string(c)  # custom: a Java class name
    elif kind in (0x0020, 0x0022):  # list, set
        _skip_type(c, depth + 1)
    elif kind == 0x0021:  # map
        _skip_type(c, depth + 1)
        _skip_type(c, depth + 1)
    elif kind not in _SIMPLE_TYPES:
        raise ProtocolError(f"CQL type {kind:#x} not read here")


def parse_rows(c: Cursor) -> dict[str, Any]:
    """RESULT Rows with text columns -> {column: value} of the first row."""
    if c.i32() != ROWS:
        raise ProtocolError("RESULT is not Rows")
    flags, ncols = c.i32(), c.i32()
    if not 0 <= ncols <= 32:
        raise ProtocolError(f"{ncols} columns")
    if flags & 0x0002:
        c.take(max(0, c.i32()))  # paging state
    if flags & 0x0004:
        raise ProtocolError("RESULT without metadata")
    global_spec = bool(flags & 0x0001)
    if global_spec:
        _string(c), _string(c)
    names = []
    for _ in range(ncols):
        if not global_spec:
            _string(c), _string(c)
        names.append(_string(c))
        _skip_type(c)
    out: dict[str, Any] = {}
    if c.count(4 * ncols, 1 << 20) >= 1:
        for name in names:
            n = c.i32()
            if n >= 0:
                out[name] = c.take(n)[:MAX_TEXT].decode("utf-8", "replace")
    return out


async def _ask(conn: Conn, request: bytes, timeout: float, cap: int) -> bytes:
    await conn.write(request, timeout)
    return await conn.read_until_done(frame_complete, cap, timeout)


def _retry_version(tried: int, answered: int, error: dict[str, Any]) -> int | None:
    """The version to try after a protocol-version refusal. Cassandra's message lists
    what it speaks ("...; supported versions are (3/v3, 4/v4, 5/v5)"): the highest up
    to v4 (we read system.local in those), else the lowest above. Without the list, the
    version the error frame came in, else one lower."""
    message = str(error.get("message", ""))
    if error.get("code") not in (ERR_PROTOCOL, 0) or "version" not in message.lower():
        return None
    listed = {int(n) for n in _LISTED.findall(message)} - {tried}
    if greatest := _GREATEST.search(message):  # Cassandra 2.2 and 3.0-3.9 say so
        listed.add(int(greatest.group(1)))
    usable = sorted(v for v in listed if LOWEST <= v <= HIGHEST)
    if usable:
        below = [v for v in usable if v <= FIRST_VERSION]
        return below[-1] if below else usable[0]
    nxt = answered if answered != tried else tried - 1
    return nxt if LOWEST <= nxt <= HIGHEST else None


async def probe(ctx: GrabContext) -> str:
    version: int | None = FIRST_VERSION
    tried: list[int] = []
    while version is not None and version not in tried and len(tried) < 3:
        tried.append(version)
        outcome, version = await _session(ctx, version)
        if outcome != "retry":
            return outcome
    return Outcome.POSITIVE if "cassandra" in ctx.result.sections else Outcome.NEGATIVE


async def _session(ctx: GrabContext, version: int) -> tuple[str, int | None]:
    """One connection at one protocol version -> (outcome or "retry", next version)."""
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE, None
    t, cap = ctx.opts.read_timeout, ctx.opts.max_bytes
    try:
        reply = await _ask(conn, options_request(version), t, cap)
        try:
            answered, opcode, said = parse_reply(reply)
        except ProtocolError:
            return Outcome.NEGATIVE, None
        if opcode not in (OP_SUPPORTED, OP_ERROR):
            return Outcome.NEGATIVE, None
        res = ctx.result
        res.service = "cassandra"
        res.data = reply
        res.responses["cassandra-options"] = reply
        section = res.sections.setdefault("cassandra", {})
        if opcode == OP_ERROR:
            section["error"] = said
            nxt = _retry_version(version, answered, said)
            return ("retry", nxt) if nxt is not None else (Outcome.POSITIVE, None)
        section.pop("error", None)
        section["protocol_version"] = version
        _supported(section, said["supported"])
        await _startup(conn, version, section, t, cap)
        res.data = summary(section)  # the raw SUPPORTED frame stays in responses
        return Outcome.POSITIVE, None
    except TimeoutError:
        return (Outcome.POSITIVE if "cassandra" in ctx.result.sections
                else Outcome.SILENT), None
    except (ConnectionError, ssl.SSLError, OSError):
        return (Outcome.POSITIVE if "cassandra" in ctx.result.sections
                else Outcome.NEGATIVE), None
    finally:
        await conn.close()


def _supported(section: dict[str, Any], options: dict[str, list[str]]) -> None:
    section["supported"] = options
    if options.get("CQL_VERSION"):
        section["cql_version"] = options["CQL_VERSION"][0]
    if options.get("PROTOCOL_VERSIONS"):  # Cassandra 4.0+: "3/v3", "4/v4", "5/v5-beta"
        section["protocol_versions"] = options["PROTOCOL_VERSIONS"]
    section["scylla"] = any(k.startswith("SCYLLA_") for k in options)
    if section["scylla"] and options.get("SCYLLA_NR_SHARDS"):
        section["scylla_shards"] = options["SCYLLA_NR_SHARDS"][0]


def summary(section: dict[str, Any]) -> bytes:
    """A readable banner: the SUPPORTED options, then what STARTUP and system.local said."""
    lines = [f"{k}: {', '.join(v)}" for k, v in section.get("supported", {}).items()]
    if "auth_required" in section:
        lines.append("STARTUP: " + (f"AUTHENTICATE {section.get('authenticator', '')}"
                                    if section["auth_required"] else "READY"))
    lines += [f"{k}: {section[k]}" for k in ("cluster_name", "release_version", "data_center")
              if k in section]
    return "\n".join(lines).encode("utf-8", "replace")


async def _startup(conn: Conn, version: int, section: dict[str, Any],
                   t: float, cap: int) -> None:
    try:
        _v, opcode, said = parse_reply(await _ask(conn, startup_request(version), t, cap))
    except ProtocolError as e:
        section["startup_error"] = str(e)[:200]
        return
    if opcode == OP_AUTHENTICATE:
        section["auth_required"] = True
        section["authenticator"] = said["authenticator"]
    elif opcode == OP_READY:
        section["auth_required"] = False
        if version <= 4:  # v5 frames what follows READY anew: not spoken here
            await _local(conn, version, section, t, cap)
    elif opcode == OP_ERROR:
        section["startup_error"] = said.get("message", "")


async def _local(conn: Conn, version: int, section: dict[str, Any],
                 t: float, cap: int) -> None:
    """system.local's cluster name and release, as every driver reads them."""
    try:
        _v, opcode, said = parse_reply(await _ask(conn, query_request(version), t, cap))
    except ProtocolError as e:
        section["query_error"] = str(e)[:200]
        return
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return  # READY was said already: the query is a bonus
    if opcode == OP_RESULT:
        for key in ("cluster_name", "release_version", "data_center"):
            if said.get(key):
                section[key] = said[key]
    elif opcode == OP_ERROR:
        section["query_error"] = said.get("message", "")


PROTOCOL = Protocol(name="cassandra", ports=(9042,), probe=probe,
                    in_replies=looks_like_error)
