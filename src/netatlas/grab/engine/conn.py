"""The only place grab touches sockets: bounded connect, bounded reads, shared TLS.

Every read has a deadline over the whole logical operation (so a server dripping one
byte a second cannot stretch it) and a byte cap (so one sending 100 MB cannot fill
memory: the stream's buffer limit pauses the transport once we stop reading).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Callable, Sequence

from netatlas.vantage import source_for

from .errors import ConnectTimeout, ProtocolError

DEFAULT_ALPN = ("h2", "http/1.1")
_contexts: dict[tuple[str, ...], ssl.SSLContext] = {}


def tls_context(alpn: Sequence[str] = DEFAULT_ALPN) -> ssl.SSLContext:
    """A client context for surveying: no verification (we record broken chains, we
    do not refuse them), as old a protocol as this OpenSSL allows, every cipher."""
    key = tuple(alpn)
    ctx = _contexts.get(key)
    if ctx is not None:
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ValueError, ssl.SSLError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old is what we want to see
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    with contextlib.suppress(ssl.SSLError):
        # Security level 0 lets OpenSSL 3 still talk TLS 1.0/1.1 and weak ciphers.
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0)
    if key:
        ctx.set_alpn_protocols(list(key))
    _contexts[key] = ctx
    return ctx


def sni_for(hostname: str | None) -> str | None:
    """SNI only for a real hostname, never an address literal."""
    if not hostname:
        return None
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return hostname
    return None


class Conn:
    """A stream with a push-back buffer and bounded read helpers."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        chunk: int = 16 * 1024,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._pending = bytearray()
        self._chunk = chunk
        self.at_eof = False

    # -- TLS ------------------------------------------------------------------
    async def start_tls(
        self, timeout: float, server_hostname: str | None, alpn: Sequence[str] = DEFAULT_ALPN
    ) -> ssl.SSLObject:
        if self._pending:
            raise ProtocolError("plaintext bytes pending before TLS handshake")
        # Our own deadline (TimeoutError = silence); asyncio's own one is a backstop.
        async with asyncio.timeout(timeout):
            await self._writer.start_tls(
                tls_context(alpn),
                server_hostname=sni_for(server_hostname) or "",
                ssl_handshake_timeout=timeout + 1,
            )
        return self.ssl_object  # type: ignore[return-value]

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        return self._writer.get_extra_info("ssl_object")

    # -- writing ---------------------------------------------------------------
    async def write(self, data: bytes, timeout: float) -> None:
        self._writer.write(data)
        async with asyncio.timeout(timeout):
            await self._writer.drain()

    # -- reading ---------------------------------------------------------------
    def unread(self, data: bytes) -> None:
        self._pending[:0] = data

    async def read_some(self, timeout: float, n: int | None = None) -> bytes:
        """One chunk (b"" at EOF). Raises TimeoutError if nothing came in time."""
        n = n or self._chunk
        if self._pending:
            out = bytes(self._pending[:n])
            del self._pending[:n]
            return out
        if self.at_eof:
            return b""
        async with asyncio.timeout(timeout):
            data = await self._reader.read(n)
        if not data:
            self.at_eof = True
        return data

    async def read_until_done(
        self, done: Callable[[bytes], bool], cap: int, timeout: float
    ) -> bytes:
        """Accumulate until ``done(buffer)``, EOF, ``cap`` bytes or the deadline.

        Returns what arrived (possibly incomplete: callers check). Raises TimeoutError
        only when the deadline passes with nothing at all received.
        """
        buf = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(buf) < cap:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if not buf:
                    raise TimeoutError
                break
            try:
                data = await self.read_some(remaining, min(self._chunk, cap - len(buf)))
            except TimeoutError:
                if not buf:
                    raise
                break
            except (ConnectionError, ssl.SSLError):
                if not buf:
                    raise
                break
            if not data:
                break
            buf += data
            if done(bytes(buf)):
                break
        return bytes(buf)

    async def read_until(self, sep: bytes, cap: int, timeout: float) -> bytes:
        """Up to and including ``sep``; any excess is pushed back for the next read."""
        data = await self.read_until_done(lambda b: sep in b, cap, timeout)
        i = data.find(sep)
        if i >= 0 and i + len(sep) < len(data):
            self.unread(data[i + len(sep) :])
            data = data[: i + len(sep)]
        return data

    async def read_exactly(self, n: int, timeout: float) -> bytes:
        data = await self.read_until_done(lambda b: len(b) >= n, n, timeout)
        if len(data) < n:
            raise ProtocolError(f"short read: wanted {n} bytes, got {len(data)}")
        return data

    async def read_to_eof(self, cap: int, timeout: float) -> bytes:
        return await self.read_until_done(lambda b: False, cap, timeout)

    # -- closing -----------------------------------------------------------------
    async def close(self) -> None:
        w = self._writer
        try:
            w.close()
            async with asyncio.timeout(0.5):
                await w.wait_closed()
        except asyncio.CancelledError:
            self.abort()
            # Our task being cancelled propagates; a close waiter that asyncio cancelled
            # itself (an SSL transport whose socket was already aborted) is just closed.
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
        except Exception:  # a peer that misbehaves on close must not matter
            self.abort()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.transport.abort()


async def connect(ip: str, port: int, timeout: float, limit: int = 64 * 1024) -> Conn:
    """TCP connect within ``timeout``: ConnectTimeout on silence, ConnectionRefusedError
    passes through (core maps it to its status word)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                ip, port, limit=limit, local_addr=source_for(_family(ip)))
    except TimeoutError as e:
        raise ConnectTimeout(f"connect to {ip}:{port} timed out after {timeout}s") from e
    return Conn(reader, writer)


def _family(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET
