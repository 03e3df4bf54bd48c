"""FTP grabber: greeting, FEAT and SYST (harmless reads, no login), then QUIT."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from .conn import Conn
from .context import GrabContext
from .errors import GrabError, ProtocolError
from .lines import command, parse_reply, read_reply

_SOFT = (TimeoutError, ConnectionError, ssl.SSLError, GrabError)


def parse_feat(reply: bytes) -> list[str]:
    """``211-Features:`` / `` MDTM`` ... / ``211 End`` -> ["MDTM", ...]."""
    code, lines = parse_reply(reply)
    if code != 211:
        return []
    return [ln.strip() for ln in lines[1:-1] if ln.strip()][:100]


def parse_syst(reply: bytes) -> str | None:
    code, lines = parse_reply(reply)
    return lines[-1].strip() if code == 215 and lines else None


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "ftp"
    cap, t = ctx.opts.max_bytes, ctx.opts.read_timeout
    greeting = await read_reply(conn, cap, t)
    res.data = greeting
    code, lines = parse_reply(greeting)
    if code is None:
        raise ProtocolError("FTP greeting without a reply code")
    section: dict[str, Any] = {
        "banner": "\n".join(lines),
        "code": code,
        "features": [],
        "syst": None,
    }
    res.sections["ftp"] = section
    if code != 220:
        return  # 421 too many users etc.: the greeting is the fact
    with contextlib.suppress(*_SOFT):
        section["features"] = parse_feat(await command(conn, b"FEAT\r\n", cap, t))
        section["syst"] = parse_syst(await command(conn, b"SYST\r\n", cap, t))
    with contextlib.suppress(*_SOFT):
        await command(conn, b"QUIT\r\n", cap, min(t, 1.0))
