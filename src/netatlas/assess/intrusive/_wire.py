"""The bounded connections the default-login families use: grab's own connect (the
scan's source address, connect time-out) and one HTTP request per connection, the
reply capped and read against one deadline."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h11

from ...grab.codecs.httpparse import HttpResponse, ResponseParser
from ...grab.engine.conn import Conn, connect
from ...grab.engine.errors import ProtocolError
from . import Limits, Target


@asynccontextmanager
async def opened(target: Target, limits: Limits) -> AsyncIterator[Conn]:
    conn = await connect(target.ip, target.port, limits.connect_timeout)
    try:
        if target.tls:
            await conn.start_tls(limits.connect_timeout, None, alpn=("http/1.1",))
        yield conn
    finally:
        await conn.close()


def basic(user: str, secret: str) -> tuple[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    return ("Authorization", f"Basic {token}")


async def http_request(target: Target, limits: Limits, method: str, path: str,
                       headers: list[tuple[str, str]] | None = None,
                       body: bytes = b"") -> HttpResponse:
    """One request on a fresh connection; the reply capped at ``limits.max_bytes`` and
    read within two read time-outs. No redirect is ever followed."""
    h = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.max_bytes)
    head = [("Host", target.host_header), ("User-Agent", limits.user_agent),
            ("Accept", "*/*"), ("Connection", "close"), *(headers or [])]
    if body or method == "POST":
        head.append(("Content-Length", str(len(body))))
    data = h.send(h11.Request(method=method, target=path, headers=head)) or b""
    if body:
        data += h.send(h11.Data(data=body)) or b""
    data += h.send(h11.EndOfMessage()) or b""
    parser = ResponseParser(h, limits.max_bytes, limits.max_bytes)
    async with opened(target, limits) as conn:
        await conn.write(data, limits.read_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * limits.read_timeout
        while not parser.done:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            chunk = await conn.read_some(remaining)
            if not chunk:
                parser.eof()
                break
            parser.feed(chunk)
    resp = parser.result()
    if resp.status is None:
        raise ProtocolError(resp.error or "no HTTP status line")
    return resp
