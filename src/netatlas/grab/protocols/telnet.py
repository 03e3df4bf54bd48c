"""Telnet grabber: strip IAC option negotiation (refusing every option), keep the
text the server shows before a login prompt. We never type anything."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.registry import Greeting, Protocol

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
VERBS = {WILL: "will", WONT: "wont", DO: "do", DONT: "dont"}
OPTIONS = {
    0: "binary",
    1: "echo",
    3: "suppress-go-ahead",
    5: "status",
    6: "timing-mark",
    24: "terminal-type",
    31: "window-size",
    32: "terminal-speed",
    33: "remote-flow-control",
    34: "linemode",
    35: "x-display-location",
    36: "environ",
    37: "authentication",
    38: "encryption",
    39: "new-environ",
}
MAX_TEXT = 8192
MAX_ROUNDS = 6
_PROMPT = re.compile(rb"(?:login|username|user name|password|name)\s*:\s*$|[#$>%]\s*$", re.I)


def parse(buf: bytes) -> tuple[bytes, list[tuple[int, int]], bytes]:
    """Split a telnet stream (sans-IO) -> (text, [(verb, option)], unparsed tail).

    The tail is an incomplete command at the end (wait for more bytes). Subnegotiation
    is skipped; IAC IAC is a literal 0xFF."""
    text = bytearray()
    cmds: list[tuple[int, int]] = []
    i, n = 0, len(buf)
    while i < n:
        b = buf[i]
        if b != IAC:
            text.append(b)
            i += 1
            continue
        if i + 1 >= n:
            return bytes(text), cmds, buf[i:]
        c = buf[i + 1]
        if c == IAC:
            text.append(IAC)
            i += 2
        elif c in VERBS:
            if i + 2 >= n:
                return bytes(text), cmds, buf[i:]
            cmds.append((c, buf[i + 2]))
            i += 3
        elif c == SB:
            end = buf.find(bytes([IAC, SE]), i + 2)
            if end < 0:
                if n - i > 1024:  # an endless subnegotiation: drop it
                    return bytes(text), cmds, b""
                return bytes(text), cmds, buf[i:]
            i = end + 2
        else:
            i += 2  # NOP, GA, AYT...: two bytes, no option
    return bytes(text), cmds, b""


def refusal(cmds: list[tuple[int, int]]) -> bytes:
    """WONT for every DO, DONT for every WILL (we want no option on)."""
    out = bytearray()
    for verb, opt in cmds:
        if verb == DO:
            out += bytes([IAC, WONT, opt])
        elif verb == WILL:
            out += bytes([IAC, DONT, opt])
    return bytes(out)


def section_from(text: bytes, cmds: list[tuple[int, int]]) -> dict[str, Any]:
    neg: dict[str, list[str]] = {}
    for verb, opt in cmds[:200]:
        names = neg.setdefault(VERBS[verb], [])
        name = OPTIONS.get(opt, str(opt))
        if name not in names:
            names.append(name)
    clean = text.replace(b"\x00", b"").replace(b"\r\n", b"\n").replace(b"\r", b"")
    return {"banner": clean.decode("utf-8", errors="replace").strip()[:MAX_TEXT], **neg}


def looks_done(text: bytes) -> bool:
    return bool(_PROMPT.search(text.rstrip(b"\r\n\x00")[-200:]))


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "telnet"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.opts.read_timeout
    raw = bytearray()
    text = bytearray()
    cmds: list[tuple[int, int]] = []
    tail = b""
    for _ in range(MAX_ROUNDS):
        remaining = deadline - loop.time()
        if remaining <= 0 or len(raw) >= ctx.opts.max_bytes:
            break
        try:
            chunk = await conn.read_some(min(remaining, 1.0), ctx.opts.max_bytes - len(raw))
        except (TimeoutError, ConnectionError):
            break
        if not chunk:
            break
        raw += chunk
        t, new, tail = parse(tail + chunk)
        text += t[: MAX_TEXT - len(text)]
        cmds += new
        answer = refusal(new)
        if answer:
            try:
                await conn.write(answer, min(max(remaining, 0.1), 1.0))
            except (TimeoutError, ConnectionError):
                break
        if looks_done(bytes(text)):
            break
    res.data = bytes(raw)
    res.sections["telnet"] = section_from(bytes(text), cmds)


PORTS = (23, 2323)
_NEGOTIATION = re.compile(rb"\xff[\xfb-\xfe][\x00-\x27]")


def greeting(first: bytes, port: int) -> Greeting:
    if len(first) > 1 and first[0] == IAC and first[1] in (WILL, WONT, DO, DONT):
        return Greeting.YES
    if len(_NEGOTIATION.findall(first[:256])) >= 2:
        return Greeting.YES  # a text banner first, then option negotiation (one could be noise)
    if port in PORTS and first:
        return Greeting.PORT  # a bare text banner (no negotiation) on telnet's ports
    return Greeting.NO


PROTOCOL = Protocol(name="telnet", ports=PORTS, greeting=greeting, grab=grab)
