"""rsync daemon grabber. The daemon greets with ``@RSYNCD: <protocol>``; we answer with
our protocol version and an empty module name, which asks for the module list (what
``rsync host::`` does), read the MOTD and the list up to ``@RSYNCD: EXIT``, and leave.

Then, for a few listed modules, one more connection each names the module and reads
the daemon's answer: ``@RSYNCD: OK`` (no authentication: a client may now send its
arguments, which we never do), ``@RSYNCD: AUTHREQD <challenge>`` or ``@ERROR: ...``.
Nothing is listed or transferred from a module."""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Callable
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ProtocolError
from ..engine.registry import Greeting, Protocol

CLIENT_VERSION = b"@RSYNCD: 30.0\n"  # what rsync 3.x clients send first
MAX_GREETING = 512
MAX_LISTING = 32 * 1024
MAX_MODULES = 100
MAX_MOTD_LINES = 20
PROBED_MODULES = 5  # modules asked whether they need authentication, at most
_GREETING = re.compile(rb"^@RSYNCD: (\d{1,4})(?:\.(\d{1,4}))?([^\n]{0,400})\n")
_MODULE = re.compile(r"^([^\s\t\[\]]{1,255})[ ]*\t(.*)$")


def is_greeting(first: bytes) -> bool:
    return first.startswith(b"@RSYNCD: ") and first[9:10].isdigit()


def parse_greeting(line: bytes) -> dict[str, Any]:
    """``@RSYNCD: 31.0 sha512 sha256 ...`` -> protocol, sub-protocol, digests."""
    m = _GREETING.match(line[:MAX_GREETING])
    if not m:
        raise ProtocolError(f"not an rsync daemon greeting: {line[:60]!r}")
    out: dict[str, Any] = {"protocol": int(m.group(1)), "version": m.group(1).decode()}
    if m.group(2) is not None:
        out["subprotocol"] = int(m.group(2))
        out["version"] += "." + m.group(2).decode()
    digests = m.group(3).decode("ascii", "replace").split()
    if digests:
        out["digests"] = digests[:10]
    return out


def parse_listing(buf: bytes) -> dict[str, Any]:
    """What follows our empty module name: MOTD lines (and a blank one), then
    ``name<TAB>comment`` per listable module, then ``@RSYNCD: EXIT``; or ``@ERROR``."""
    text = buf[:MAX_LISTING].decode("utf-8", "replace")
    motd: list[str] = []
    modules: list[dict[str, str]] = []
    out: dict[str, Any] = {"listing_complete": False}
    for line in text.split("\n"):
        if line.startswith("@RSYNCD: EXIT"):
            out["listing_complete"] = True
            break
        if line.startswith("@ERROR"):
            out["error"] = line[:300]
            break
        m = _MODULE.match(line)
        if m and len(modules) < MAX_MODULES:
            modules.append({"name": m.group(1), "comment": m.group(2).strip()[:200]})
        elif not modules and line.strip() and len(motd) < MAX_MOTD_LINES:
            motd.append(line.rstrip("\r")[:300])
    out["modules"] = modules
    if motd:
        out["motd"] = "\n".join(motd)
    return out


def parse_module_reply(buf: bytes) -> dict[str, Any]:
    """The daemon's answer to a module name (MOTD lines may come first)."""
    for raw in buf[:MAX_LISTING].split(b"\n"):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line.startswith("@RSYNCD: OK"):
            return {"auth_required": False}
        if line.startswith("@RSYNCD: AUTHREQD"):
            return {"auth_required": True}
        if line.startswith("@ERROR"):
            return {"error": line[:300]}
        if line.startswith("@RSYNCD: EXIT"):
            break
    raise ProtocolError("no answer to the module name")


def _module_answered(buf: bytes) -> bool:
    return any(marker in buf for marker in (b"@RSYNCD: OK\n", b"@RSYNCD: AUTHREQD",
                                            b"@ERROR", b"@RSYNCD: EXIT"))


def _listing_done(buf: bytes) -> bool:
    return b"@RSYNCD: EXIT" in buf or b"@ERROR" in buf


async def _greeting(ctx: GrabContext, conn: Conn) -> bytes:
    line = await conn.read_until(b"\n", MAX_GREETING, ctx.opts.read_timeout)
    if not line.endswith(b"\n"):
        raise ProtocolError("rsync greeting too long or cut short")
    return line


async def _request(ctx: GrabContext, conn: Conn, request: bytes,
                   done: Callable[[bytes], bool]) -> bytes:
    """Our version and ``request`` after the greeting; what the daemon answered."""
    t = ctx.opts.read_timeout
    await conn.write(CLIENT_VERSION + request, t)
    return await conn.read_until_done(done, min(MAX_LISTING, ctx.opts.max_bytes), t)


async def _ask_module(ctx: GrabContext, name: str) -> dict[str, Any]:
    conn = await ctx.open()
    try:
        await _greeting(ctx, conn)
        return parse_module_reply(
            await _request(ctx, conn, name.encode() + b"\n", _module_answered))
    finally:
        await conn.close()  # after OK the daemon waits for our arguments: none come


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "rsync"
    line = await _greeting(ctx, conn)
    section = res.sections["rsync"] = parse_greeting(line)
    res.data = line
    try:
        reply = await _request(ctx, conn, b"\n", _listing_done)
    except TimeoutError:
        section["modules"] = []
        return  # greeted, then silent: the greeting is what we know
    res.data = (line + reply)[: ctx.opts.max_bytes]
    section.update(parse_listing(reply))
    await conn.close()
    for module in section["modules"][:PROBED_MODULES]:
        with contextlib.suppress(TimeoutError, ConnectionError, ProtocolError, OSError,
                                 ssl.SSLError):
            module.update(await _ask_module(ctx, module["name"]))


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if is_greeting(first) else Greeting.NO


PROTOCOL = Protocol(name="rsync", ports=(873,), greeting=greeting, grab=grab)
