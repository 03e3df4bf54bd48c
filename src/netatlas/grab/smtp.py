"""SMTP grabber: greeting, EHLO capabilities (STARTTLS noted, not performed), QUIT."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from .conn import Conn
from .context import GrabContext
from .errors import GrabError, ProtocolError
from .lines import command, parse_reply, read_reply

EHLO = b"EHLO netatlas.invalid\r\n"
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
    with contextlib.suppress(*_SOFT):
        await command(conn, b"QUIT\r\n", cap, min(t, 1.0))
