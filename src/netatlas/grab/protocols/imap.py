"""IMAP grabber: the greeting, CAPABILITY, ID (RFC 2971, names the server) and LOGOUT.
No login."""

from __future__ import annotations

import re
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol

MAX_LINE = 4096
MAX_CAPS = 128
_ID_PAIR = re.compile(r'"((?:[^"\\]|\\.){0,100})"\s+(?:"((?:[^"\\]|\\.){0,300})"|NIL)', re.I)


def _caps_from(text: str) -> list[str]:
    return [c for c in text.split() if c][:MAX_CAPS]


def parse_greeting(line: bytes) -> dict[str, Any]:
    """``* OK [CAPABILITY ...] text`` / ``* PREAUTH`` / ``* BYE`` -> banner facts."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")[:MAX_LINE]
    m = re.match(r"\* (OK|PREAUTH|BYE)\b ?(.*)", text, re.I | re.S)
    if not m:
        raise ProtocolError(f"not an IMAP greeting: {text[:60]!r}")
    status, rest = m.group(1).upper(), m.group(2)
    out: dict[str, Any] = {"status": status}
    cm = re.match(r"\[CAPABILITY ([^\]]*)\]\s*(.*)", rest, re.I | re.S)
    if cm:
        out["capabilities"] = _caps_from(cm.group(1))
        rest = cm.group(2)
    out["banner"] = rest.strip()
    return out


def tagged_complete(tag: bytes) -> Any:
    def done(buf: bytes) -> bool:
        return buf.endswith(b"\n") and (buf.startswith(tag + b" ") or b"\n" + tag + b" " in buf)

    return done


def parse_response(buf: bytes, tag: str) -> dict[str, Any]:
    """Untagged CAPABILITY / ID lines and the tagged status of one command."""
    out: dict[str, Any] = {}
    for raw in buf.decode("utf-8", errors="replace").split("\n")[:200]:
        ln = raw.rstrip("\r")
        up = ln.upper()
        if up.startswith("* CAPABILITY "):
            out["capabilities"] = _caps_from(ln[13:])
        elif up.startswith("* ID ") and "(" in ln:
            out["id"] = {
                k.lower()[:100]: v for k, v in _ID_PAIR.findall(ln[ln.index("(") :])[:30] if v
            }
        elif ln.startswith(tag + " "):
            out["status"] = ln[len(tag) + 1 :].split(" ", 1)[0].upper()
    return out


async def _command(conn: Conn, tag: str, cmd: str, cap: int, t: float) -> bytes:
    await conn.write(f"{tag} {cmd}\r\n".encode(), t)
    return await conn.read_until_done(tagged_complete(tag.encode()), cap, t)


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "imap"
    t = ctx.opts.read_timeout
    cap = min(ctx.opts.max_bytes, 16384)
    line = await conn.read_until(b"\n", MAX_LINE, t)
    res.data = line
    section = parse_greeting(line)
    res.sections["imap"] = section
    if section["status"] == "BYE":
        return
    try:
        reply = await _command(conn, "a1", "CAPABILITY", cap, t)
        res.responses["imap-CAPABILITY"] = reply
        caps = parse_response(reply, "a1").get("capabilities")
        if caps:
            section["capabilities"] = caps
        if "ID" in {c.upper() for c in section.get("capabilities", [])}:
            reply = await _command(conn, "a2", "ID NIL", cap, t)
            res.responses["imap-ID"] = reply
            ident = parse_response(reply, "a2").get("id")
            if ident:
                section["id"] = ident
        await conn.write(b"a3 LOGOUT\r\n", t)
    except (TimeoutError, ConnectionError):
        pass  # the greeting is already a fact
    caps_up = {c.upper() for c in section.get("capabilities", [])}
    section["starttls"] = "STARTTLS" in caps_up
    section["login_disabled"] = "LOGINDISABLED" in caps_up


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if first.startswith((b"* OK", b"* PREAUTH", b"* BYE")) \
        else Greeting.NO


PROTOCOL = Protocol(name="imap", ports=(143,), greeting=greeting, grab=grab)
