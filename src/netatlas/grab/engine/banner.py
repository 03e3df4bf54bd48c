"""Generic banner grabber: what the server said first, or its answer to a blank-lines
poke. Also used for greeting protocols we only name (pop3, imap, vnc, telnet)."""

from __future__ import annotations

from .conn import Conn
from .context import GrabContext

POKE = b"\r\n\r\n"


async def collect(ctx: GrabContext, conn: Conn, service: str | None) -> None:
    """Keep reading a greeting briefly (multi-line banners), capped and time-bound."""
    res = ctx.result
    res.service = service
    t = min(ctx.opts.read_timeout, 1.0)
    try:
        data = await conn.read_until_done(lambda b: False, ctx.opts.max_bytes, t)
    except TimeoutError:
        data = b""
    res.data = data
    if service == "vnc" and data.startswith(b"RFB "):
        res.sections["vnc"] = {"protocol_version": data[4:11].decode("ascii", "replace")}


async def poke(ctx: GrabContext) -> bool:
    """Fresh connection, send blank lines, keep whatever comes back. False if nothing."""
    conn = await ctx.open()
    try:
        await conn.write(POKE, ctx.opts.read_timeout)
        try:
            data = await conn.read_until_done(
                lambda b: False, ctx.opts.max_bytes, ctx.opts.read_timeout
            )
        except TimeoutError:
            data = b""
    finally:
        await conn.close()
    if data:
        ctx.result.data = data
        ctx.result.responses.setdefault("GenericLines", data)
    return bool(data)
