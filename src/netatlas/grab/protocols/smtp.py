"""SMTP grabber: greeting, EHLO capabilities (STARTTLS noted, not performed), one VRFY
and one EXPN of ``postmaster`` (the address RFC 5321 requires every server to have: the
answer shows whether the server confirms addresses, i.e. allows user enumeration), QUIT.
No MAIL, no RCPT: nothing is ever queued."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import GrabError, ProtocolError
from ..engine.lines import command, greeting_names, parse_reply, read_reply
from ..engine.registry import Greeting, Protocol

EHLO = b"EHLO netatlas.invalid\r\n"
# RFC 5321 3.5.3: 250/251 confirm the address, 252 "cannot verify" confirms nothing,
# 502/252 are how servers that forbid enumeration answer.
PROBE_ADDRESS = b"postmaster"
_SOFT = (TimeoutError, ConnectionError, ssl.SSLError, GrabError)


def parse_ehlo(reply: bytes) -> list[str]:
    """250-host greets / 250-PIPELINING / 250 STARTTLS -> ["PIPELINING", "STARTTLS"]."""
    code, lines = parse_reply(reply)
    if code != 250:
        return []
    return [ln.strip() for ln in lines[1:] if ln.strip()][:100]


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "smtp"
    cap, t = ctx.opts.max_bytes, ctx.opts.read_timeout
    greeting = await read_reply(conn, cap, t)
    res.data = greeting
    code, lines = parse_reply(greeting)
    if code is None:
        raise ProtocolError("SMTP greeting without a reply code")
    section: dict[str, Any] = {
        "banner": "\n".join(lines),
        "code": code,
        "ehlo": [],
        "starttls": False,
    }
    res.sections["smtp"] = section
    if code != 220:
        return
    with contextlib.suppress(*_SOFT):
        ehlo = parse_ehlo(await command(conn, EHLO, cap, t))
        section["ehlo"] = ehlo
        section["starttls"] = any(x.upper() == "STARTTLS" for x in ehlo)
    for verb in ("vrfy", "expn"):
        try:
            reply = await command(conn, verb.upper().encode() + b" " + PROBE_ADDRESS + b"\r\n",
                                  cap, t)
        except _SOFT:
            break
        section[verb] = reply_summary(reply)
    with contextlib.suppress(*_SOFT):
        await command(conn, b"QUIT\r\n", cap, min(t, 1.0))


def reply_summary(reply: bytes) -> dict[str, Any]:
    """A reply as {code, text}: the text capped, lines joined."""
    code, lines = parse_reply(reply)
    return {"code": code, "text": " / ".join(lines)[:200]}


PORTS = (25, 465, 587, 2525)


def greeting(first: bytes, port: int) -> Greeting:
    named = greeting_names(first)
    if named == "smtp":
        return Greeting.YES
    return Greeting.PORT if named == "" and port in PORTS else Greeting.NO


PROTOCOL = Protocol(name="smtp", ports=PORTS, greeting=greeting, grab=grab)
