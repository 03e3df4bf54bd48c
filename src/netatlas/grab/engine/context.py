"""What every grabber gets: the endpoint, the options, the result being filled in, and
a way to open a fresh connection that is TLS-wrapped whenever the endpoint is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ...model import Endpoint, GrabResult
from .conn import DEFAULT_ALPN, Conn, connect
from .options import GrabOptions


@dataclass(slots=True)
class GrabContext:
    ep: Endpoint
    opts: GrabOptions
    result: GrabResult
    tls: bool = False  # set once a TLS handshake succeeded: later connections wrap too
    conns: list[Conn] = field(default_factory=list)  # every connection, aborted at the end

    @property
    def hostname(self) -> str:
        """The name to put in Host: the known hostname, else the address."""
        return self.opts.host_header or self.ep.ip

    async def open(self, alpn: Sequence[str] = DEFAULT_ALPN) -> Conn:
        conn = await self.open_plain()
        if self.tls:
            try:
                await conn.start_tls(self.opts.read_timeout, self.opts.host_header, alpn)
            except BaseException:
                await conn.close()
                raise
        return conn

    async def open_plain(self) -> Conn:
        if self.opts.limiter is not None:
            await self.opts.limiter.wait()  # the scan-wide connection rate
        conn = await connect(
            self.ep.ip, self.ep.port, self.opts.connect_timeout, limit=self.opts.max_bytes
        )
        self.conns.append(conn)
        return conn

    def abort_all(self) -> None:
        for conn in self.conns:
            conn.abort()
        self.conns.clear()


class Outcome:
    """What a detection probe learned about the endpoint."""

    POSITIVE = "positive"  # it speaks this protocol (and the grabber ran)
    NEGATIVE = "negative"  # it answered, but not in this protocol
    SILENT = "silent"  # nothing at all before the deadline
