"""FTP grabber: greeting, FEAT and SYST, an anonymous-login check (USER anonymous, PASS
with a placeholder address, nothing listed or fetched), then QUIT."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import GrabError, ProtocolError
from ..engine.lines import command, greeting_names, parse_reply, read_reply
from ..engine.registry import Greeting, Protocol

_SOFT = (TimeoutError, ConnectionError, ssl.SSLError, GrabError)


def parse_feat(reply: bytes) -> list[str]:
    """``211-Features:`` / `` MDTM`` ... / ``211 End`` -> ["MDTM", ...]."""
    code, lines = parse_reply(reply)
    if code != 211:
        return []
    return [ln.strip() for ln in lines[1:-1] if ln.strip()][:100]


ANON_USER = b"USER anonymous\r\n"
ANON_PASS = b"PASS netatlas@example.invalid\r\n"


def anonymous_verdict(user_reply: bytes, pass_reply: bytes | None) -> bool | None:
    """True if anonymous login succeeded, False if refused, None if undecided
    (a 4xx "try later", or no reply): only a 230 counts as success."""
    code, _ = parse_reply(user_reply)
    if code == 230:  # logged in without even a password
        return True
    if code == 331 and pass_reply is not None:
        code, _ = parse_reply(pass_reply)
        if code == 230:
            return True
    if code is None or 400 <= code < 500:
        return None
    return False


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
        "anonymous": None,
    }
    res.sections["ftp"] = section
    if code != 220:
        return  # 421 too many users etc.: the greeting is the fact
    with contextlib.suppress(*_SOFT):
        section["features"] = parse_feat(await command(conn, b"FEAT\r\n", cap, t))
        section["syst"] = parse_syst(await command(conn, b"SYST\r\n", cap, t))
    with contextlib.suppress(*_SOFT):
        user_reply = await command(conn, ANON_USER, cap, t)
        # 331 / 230: the server takes a login over this cleartext connection; 530
        # ("must use encryption") when it insists on AUTH TLS first
        section["user_code"] = parse_reply(user_reply)[0]
        pass_reply = None
        if parse_reply(user_reply)[0] == 331:
            pass_reply = await command(conn, ANON_PASS, cap, t)
        section["anonymous"] = anonymous_verdict(user_reply, pass_reply)
    with contextlib.suppress(*_SOFT):
        await command(conn, b"QUIT\r\n", cap, min(t, 1.0))


PORTS = (21, 2121)


def greeting(first: bytes, port: int) -> Greeting:
    named = greeting_names(first)
    if named == "ftp":
        return Greeting.YES
    return Greeting.PORT if named == "" and port in PORTS else Greeting.NO


PROTOCOL = Protocol(name="ftp", ports=PORTS, greeting=greeting, grab=grab)
