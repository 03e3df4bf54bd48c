"""PostgreSQL grabber: SSLRequest (is TLS offered?), then a StartupMessage whose reply
(an authentication request or an ErrorResponse with routine/file/line) tells a lot."""

from __future__ import annotations

import contextlib
import ssl
import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

SSL_REQUEST = struct.pack(">II", 8, 80877103)
TERMINATE = b"X\x00\x00\x00\x04"
MAX_MESSAGE = 16 * 1024
AUTH_METHODS = {
    0: "trust",
    2: "kerberos_v5",
    3: "cleartext",
    5: "md5",
    6: "scm_credential",
    7: "gss",
    9: "sspi",
    10: "sasl",
}
ERROR_FIELDS = {
    "S": "severity",
    "V": "severity_nonlocalized",
    "C": "sqlstate",
    "M": "message",
    "D": "detail",
    "H": "hint",
    "P": "position",
    "W": "where",
    "R": "routine",
    "F": "file",
    "L": "line",
}


def startup_message(user: str = "netatlas", database: str = "netatlas") -> bytes:
    params = (
        b"".join(
            k.encode() + b"\x00" + v.encode() + b"\x00"
            for k, v in (("user", user), ("database", database), ("application_name", "netatlas"))
        )
        + b"\x00"
    )
    return struct.pack(">II", 8 + len(params), 196608) + params  # protocol 3.0


def parse_messages(buf: bytes) -> tuple[list[tuple[str, bytes]], bool]:
    """Split backend messages; -> (whole messages, all bytes consumed?).
    Lengths from the wire are validated; a bad one raises ProtocolError."""
    out: list[tuple[str, bytes]] = []
    pos = 0
    while pos + 5 <= len(buf):
        kind = chr(buf[pos])
        (length,) = struct.unpack(">I", buf[pos + 1 : pos + 5])
        if not 4 <= length <= MAX_MESSAGE:
            raise ProtocolError(f"bad message length {length}")
        end = pos + 1 + length
        if end > len(buf):
            break
        out.append((kind, buf[pos + 5 : end]))
        pos = end
    return out, pos == len(buf)


def parse_error_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in payload.split(b"\x00"):
        if not part:
            continue
        code = chr(part[0])
        name = ERROR_FIELDS.get(code, code)
        fields[name] = part[1:].decode("utf-8", errors="replace")[:500]
    return fields


def parse_auth(payload: bytes) -> tuple[str | None, list[str]]:
    if len(payload) < 4:
        raise ProtocolError("short AuthenticationRequest")
    (code,) = struct.unpack(">I", payload[:4])
    mechs = [m.decode("ascii", errors="replace") for m in payload[4:].split(b"\x00") if m]
    return AUTH_METHODS.get(code, f"code-{code}"), mechs[:10] if code == 10 else []


def _terminal(buf: bytes) -> bool:
    try:
        msgs, _ = parse_messages(buf)
    except ProtocolError:
        return True
    for kind, payload in msgs:
        if kind in ("E", "Z") or (kind == "R" and payload[:4] != b"\x00\x00\x00\x00"):
            return True
    return False


def startup_facts(buf: bytes) -> dict[str, Any]:
    """Reply to the StartupMessage -> auth_method / error / parameters (sans-IO)."""
    msgs, _ = parse_messages(buf)
    if not msgs:
        raise ProtocolError("no backend message")
    facts: dict[str, Any] = {"auth_method": None, "error": None}
    params: dict[str, str] = {}
    for kind, payload in msgs:
        if kind == "R":
            method, mechs = parse_auth(payload)
            if facts["auth_method"] is None:
                facts["auth_method"] = method
            if mechs:
                facts["sasl_mechanisms"] = mechs
        elif kind == "E":
            facts["error"] = parse_error_fields(payload)
        elif kind == "S":
            k, _, v = payload.partition(b"\x00")
            params[k.decode("utf-8", "replace")[:64]] = v.rstrip(b"\x00").decode(
                "utf-8", "replace"
            )[:200]
        elif kind not in ("K", "Z", "N"):
            raise ProtocolError(f"unexpected message type {kind!r}")
    if params:
        facts["parameters"] = params
    return facts


def summary(ssl_reply: bytes, facts: dict[str, Any] | None) -> bytes:
    """A readable one-liner of what the server said (record layer escapes it)."""
    parts = [f"SSLRequest: {ssl_reply.decode('latin-1')}"]
    if facts:
        if facts.get("auth_method"):
            parts.append(f"auth: {facts['auth_method']}")
        err = facts.get("error")
        if err:
            parts.append(
                "error: "
                + " ".join(
                    f"{k}={err[n]}"
                    for k, n in (
                        ("S", "severity"),
                        ("C", "sqlstate"),
                        ("M", "message"),
                        ("R", "routine"),
                        ("F", "file"),
                        ("L", "line"),
                    )
                    if n in err
                )
            )
        if "server_version" in facts.get("parameters", {}):
            parts.append(f"server_version: {facts['parameters']['server_version']}")
    return "; ".join(parts).encode("utf-8", errors="replace")


async def probe(ctx: GrabContext) -> str:
    opts = ctx.opts
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError):
        return Outcome.NEGATIVE
    try:
        await conn.write(SSL_REQUEST, opts.read_timeout)
        reply = await conn.read_some(opts.read_timeout, 1)
    except TimeoutError:
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError):
        return Outcome.NEGATIVE
    finally:
        await conn.close()
    if reply not in (b"S", b"N"):
        return Outcome.NEGATIVE
    res = ctx.result
    res.service = "postgresql"
    section: dict[str, Any] = {"ssl_supported": reply == b"S", "auth_method": None, "error": None}
    res.sections["postgresql"] = section
    res.data = summary(reply, None)
    conn = await ctx.open()
    try:
        await conn.write(startup_message(), opts.read_timeout)
        buf = await conn.read_until_done(_terminal, opts.max_bytes, opts.read_timeout)
        with contextlib.suppress(Exception):
            await conn.write(TERMINATE, 0.5)
    finally:
        await conn.close()
    facts = startup_facts(buf)
    section.update(facts)
    res.data = summary(reply, facts)
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="postgresql", ports=(5432, 5433), probe=probe, unhinted="in-order")
