"""POP3 grabber: the greeting, then CAPA (RFC 2449) and QUIT. No login."""

from __future__ import annotations

import re
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol

MAX_LINE = 1024
MAX_CAPS = 64


def parse_greeting(line: bytes) -> dict[str, Any]:
    """``+OK text`` (or ``-ERR text``) -> banner facts; an APOP timestamp is kept."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")[:MAX_LINE]
    if not text.startswith(("+OK", "-ERR")):
        raise ProtocolError(f"not a POP3 greeting: {text[:60]!r}")
    out: dict[str, Any] = {"banner": text[4:].strip() if text.startswith("+OK") else text}
    if text.startswith("-ERR"):
        out["error"] = text[4:].strip()
    m = re.search(r"<[^<>@\s]{1,100}@[^<>\s]{1,200}>", text)
    if m:
        out["apop"] = True
    return out


def capa_complete(buf: bytes) -> bool:
    """A ``-ERR`` line, or a multi-line reply ended by a lone dot."""
    if buf.startswith(b"-"):
        return buf.endswith(b"\n")
    return buf.endswith((b"\n.\r\n", b"\n.\n"))


def parse_capa(buf: bytes) -> dict[str, Any]:
    """Reply to CAPA -> capabilities (upper-cased keywords with their arguments)."""
    text = buf.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if not lines or not lines[0].startswith("+OK"):
        return {}
    caps: list[str] = []
    for ln in lines[1:]:
        if ln == ".":
            break
        if ln.strip():
            caps.append(ln.strip()[:200])
        if len(caps) >= MAX_CAPS:
            break
    out: dict[str, Any] = {"capabilities": caps}
    words = {c.split(" ", 1)[0].upper(): c for c in caps}
    out["starttls"] = "STLS" in words
    if "SASL" in words:
        out["sasl"] = words["SASL"].split()[1:]
    impl = words.get("IMPLEMENTATION", "").partition(" ")[2].strip()
    if impl:
        out["implementation"] = impl
    return out


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "pop3"
    t = ctx.opts.read_timeout
    line = await conn.read_until(b"\n", MAX_LINE, t)
    res.data = line
    section = parse_greeting(line)
    res.sections["pop3"] = section
    if "error" in section:
        return
    try:
        await conn.write(b"CAPA\r\n", t)
        reply = await conn.read_until_done(capa_complete, min(ctx.opts.max_bytes, 16384), t)
        res.responses["pop3-CAPA"] = reply
        section.update(parse_capa(reply))
        await conn.write(b"QUIT\r\n", t)
    except (TimeoutError, ConnectionError):
        section.setdefault("capabilities", None)  # greeting only: still a pop3 fact


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if first.startswith(b"+OK") else Greeting.NO


PROTOCOL = Protocol(name="pop3", ports=(110,), greeting=greeting, grab=grab)
