"""HTTP/2 when TLS ALPN chose h2: ``GET /`` over the connection that negotiated it
(``h2``, sans-IO), recorded in the usual "http" section with ``version: "HTTP/2"``.

Everything else HTTP (nmap's GetRequest, the favicon, ``/.git/HEAD``...) stays on
HTTP/1.1 through ``http.grab``; the HTTP/2 answer then takes the place of the
HTTP/1.1 ``GET /`` in the section (status, headers, body), since that is what a
browser would get. Caps: header list and body as for HTTP/1.1, one deadline for the
whole exchange, and only the stream we opened is read.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from ..codecs.httpparse import HttpResponse
from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import GrabError
from . import http

PART_OF = "http"  # part of that protocol, not one of its own (protocols/__init__.py)

STREAM = 1
_FATAL = (h2.events.StreamReset, h2.events.ConnectionTerminated)


class Http2Session:
    """One client connection asking for one resource (sans-IO around ``h2``)."""

    def __init__(self, authority: str, user_agent: str, head_cap: int, body_cap: int,
                 target: str = "/") -> None:
        self.body_cap = body_cap
        self.resp = HttpResponse(http_version="2")
        self.done = False
        self.error: str | None = None
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None))
        self._h2.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: head_cap,
        })
        self._h2.decoder.max_header_list_size = head_cap  # enforced while decoding
        self._h2.initiate_connection()
        self._h2.send_headers(STREAM, [
            (b":method", b"GET"), (b":scheme", b"https"),
            (b":authority", authority.encode("ascii", "replace")), (b":path", target.encode()),
            (b"user-agent", user_agent.encode()), (b"accept", b"*/*"),
        ], end_stream=True)

    def data_to_send(self) -> bytes:
        return self._h2.data_to_send()

    def feed(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.H2Error as e:  # hostile or broken framing
            self.error, self.done = f"HTTP/2: {type(e).__name__}: {e}"[:200], True
            return
        for ev in events:
            if getattr(ev, "stream_id", STREAM) not in (STREAM, 0):
                continue
            if isinstance(ev, h2.events.ResponseReceived):
                self._headers(ev.headers or [])
            elif isinstance(ev, h2.events.DataReceived):
                self._data(ev.data or b"", ev.flow_controlled_length)
            elif isinstance(ev, h2.events.StreamEnded):
                self.resp.complete, self.done = True, True
            elif isinstance(ev, _FATAL):
                self.error, self.done = f"HTTP/2: {type(ev).__name__}", True

    def _headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        for k, v in headers:
            name, value = k.decode("latin-1").lower(), v.decode("latin-1")
            if name == ":status":
                self.resp.status = int(value) if value.isdigit() else None
            elif not name.startswith(":"):
                self.resp.headers.append((name, value))

    def _data(self, data: bytes, flow: int) -> None:
        room = self.body_cap - len(self.resp.body)
        self.resp.body += data[:room]
        if len(data) > room:
            self.resp.truncated, self.done = True, True
            return
        if flow:  # keep the window open for the rest of the body
            self._h2.acknowledge_received_data(flow, STREAM)


async def fetch(ctx: GrabContext, conn: Conn, target: str = "/") -> HttpResponse:
    """GET ``target`` over ``conn`` (TLS, ALPN h2): two read timeouts for the whole
    exchange, like HTTP/1.1, so a drip feeder cannot hold us longer."""
    opts = ctx.opts
    s = Http2Session(http.host_header(ctx), opts.user_agent, opts.max_bytes, opts.max_body,
                     target)
    await conn.write(s.data_to_send(), opts.read_timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2 * opts.read_timeout
    while not s.done:
        remaining = deadline - loop.time()
        if remaining <= 0:
            if s.resp.status is None:
                raise TimeoutError("no HTTP/2 response in time")
            break
        try:
            data = await conn.read_some(remaining)
        except (TimeoutError, ConnectionError, ssl.SSLError):
            if s.resp.status is None:
                raise
            break  # a response came: keep what arrived of its body
        if not data:
            break
        s.feed(data)
        out = s.data_to_send()
        if out and not s.done:
            await conn.write(out, opts.read_timeout)
    if s.resp.status is None:
        raise GrabError(s.error or "no HTTP/2 response")
    s.resp.error = s.error
    return s.resp


def http2_section(resp: HttpResponse, host: str, body_cap: int) -> dict[str, Any]:
    """The "http" section fields from an HTTP/2 response (sans-IO)."""
    section = http.http_section(resp, host, body_cap)
    section["version"] = "HTTP/2"
    return section


async def grab(ctx: GrabContext, conn: Conn) -> None:
    """``conn`` negotiated h2: GET / over it, then the HTTP/1.1 grab for the rest."""
    ctx.result.service = "http"
    resp: HttpResponse | None = None
    error: str | None = None
    try:
        resp = await fetch(ctx, conn)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError, GrabError) as e:
        error = f"HTTP/2: {type(e).__name__}: {e}"[:200]
    finally:
        await conn.close()
    try:
        await http.grab(ctx)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError, GrabError):
        if resp is None:
            raise  # neither HTTP/2 nor HTTP/1.1 answered: not an HTTP endpoint we read
    section = ctx.result.sections.get("http") or {}
    if resp is not None and not section:  # HTTP/2 only: its head is the banner
        head = [f"HTTP/2 {resp.status}"] + [f"{k}: {v}" for k, v in resp.headers]
        ctx.result.data = "\r\n".join(head).encode()[: ctx.opts.max_bytes]
    if resp is not None:
        section.update(http2_section(resp, http.host_header(ctx), ctx.opts.max_body))
    else:
        section["h2_error"] = error
    ctx.result.sections["http"] = section
