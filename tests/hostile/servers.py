"""Hostile servers for the standing hostile suite: each one a small asyncio handler with
one bad habit, served from a background event loop on a 127.20.70.x address (this
suite's net; 127.20.71.x is "out of scope"). Port 2024 is never bound or scanned: it
belongs to another party on every loopback address."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NET = "127.20.70"  # hostile servers: NET.1, NET.2, ...
OUTSIDE = "127.20.71.1"  # never in the allow list: what a redirect must not reach
FORBIDDEN_PORT = 2024

# What a hostile server puts in every field it controls: OSC 0 (set the title), OSC 52
# (write the clipboard), CSI 2J (clear), BEL, C1 CSI / OSC / ST, a bidi override.
ESCAPES = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m\x9d0;t\x9c\u202eevil"
# characters that must never reach a terminal raw
RAW = ["\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\u202e"]
# bytes that are no UTF-8 at all, and a NUL
BAD_BYTES = b"\xff\xfe\xc3\x28\xa0\xa1\x00nul\x00\xed\xa0\x80"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- the loop the servers run on -------------------------------------------------------

class Loop:
    """An asyncio event loop in a daemon thread; servers started on it with ``serve``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # a peer that hangs up mid-handshake is what these servers expect: no log noise
        self.loop.set_exception_handler(lambda loop, ctx: None)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._servers: list[asyncio.Server] = []

    def serve(self, sock: socket.socket, handler: Handler, counter: Counter | None = None,
              tls: ssl.SSLContext | None = None) -> asyncio.Server:
        """Serve ``handler`` on ``sock``, behind TLS when ``tls`` is given (the TLS
        layer is there from the accept: StreamWriter.start_tls() in the handler loses
        a ClientHello that came before it, and the handshake then waits for ever).
        ``counter`` counts each connection when accepted, before any handshake."""
        async def start() -> asyncio.Server:
            loop = asyncio.get_running_loop()

            def protocol() -> asyncio.StreamReaderProtocol:
                if counter is not None:
                    counter.connections += 1
                return asyncio.StreamReaderProtocol(asyncio.StreamReader(), handler)

            return await loop.create_server(protocol, sock=sock, ssl=tls,
                                            ssl_handshake_timeout=30 if tls else None)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self._servers.append(server)
        return server

    def stop(self, server: asyncio.Server) -> None:
        """Stop listening with ``server`` (its socket is closed)."""
        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def bind_same_port(hosts: list[str], tries: int = 50) -> tuple[int, list[socket.socket]]:
    """Listening sockets on one port number free on every host (so one ``-p`` covers
    them all), never 2024."""
    for _ in range(tries):
        first = socket.socket()
        first.bind((hosts[0], 0))
        port = first.getsockname()[1]
        socks = [first]
        try:
            if port == FORBIDDEN_PORT:
                raise OSError("forbidden port")
            for host in hosts[1:]:
                s = socket.socket()
                socks.append(s)
                s.bind((host, port))
        except OSError:
            for s in socks:
                s.close()
            continue
        for s in socks:
            s.listen(128)
        return port, socks
    raise RuntimeError("no port free on every hostile address")


# --- counting what was contacted --------------------------------------------------------

@dataclass
class Counter:
    """Connections a server received (the proof it was tried) or, outside the allow
    list, must not have received."""

    connections: int = 0


def guarded(handler: Handler) -> Handler:
    """``handler``, the scanner hanging up on it taken as the normal end."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the scanner hung up: what it should do with these
        finally:
            writer.transport.abort()

    return run


async def _hold(reader: asyncio.StreamReader) -> None:
    """Read and drop whatever comes until the peer leaves."""
    while await reader.read(65536):
        pass


async def pump(writer: asyncio.StreamWriter, block: bytes) -> None:
    """Write ``block`` again and again until the scanner goes away, at most a block
    every 2 ms (megabytes a second: far past any cap, without eating the cores the
    scanner and the other servers need). drain() returns without yielding while the
    kernel takes every byte: the sleep also lets the other servers on this loop run
    and a lost connection be noticed (drain then raises; a TLS transport never says
    is_closing() in Python 3.11)."""
    while not writer.is_closing():
        writer.write(block)
        await writer.drain()
        await asyncio.sleep(0.002)


async def read_request(reader: asyncio.StreamReader, cap: int = 65536,
                       wait: float = 2.0) -> bytes:
    """An HTTP request head (or whatever came within ``wait`` seconds)."""
    data = b""
    with contextlib.suppress(TimeoutError):
        while b"\r\n\r\n" not in data and len(data) < cap:
            chunk = await asyncio.wait_for(reader.read(4096), wait)
            if not chunk:
                break
            data += chunk
    return data


# --- behaviours: one bad habit each -----------------------------------------------------

def tarpit() -> Handler:
    """Accepts, never reads, never speaks, never closes."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)
    return run


def endless(prefix: bytes, chunk: bytes, *, read_first: bool = False,
            greeting: bytes = b"") -> Handler:
    """``prefix`` then ``chunk`` for ever, as fast as the scanner reads (endless banner,
    endless 1xx, endless chunked body, header flood); after the request when
    ``read_first``, or after ``greeting`` and the scanner's first command."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greeting:
            writer.write(greeting)
            await writer.drain()
            await reader.read(4096)
        elif read_first:
            await read_request(reader)
        writer.write(prefix)
        await pump(writer, chunk * max(1, 16384 // len(chunk)))
    return run


def trickle(payload: bytes, delay: float = 0.5, *, read_first: bool = False) -> Handler:
    """Slowloris the other way round: ``payload`` one byte every ``delay`` seconds, then
    again, for ever."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if read_first:
            await read_request(reader)
        while not writer.is_closing():
            for i in range(len(payload)):
                writer.write(payload[i:i + 1])
                await writer.drain()
                await asyncio.sleep(delay)
    return run


def respond(payload: bytes, *, read_first: bool = True) -> Handler:
    """One reply: after the request (HTTP) or at once (a greeting), then hold the
    connection until the scanner leaves."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if read_first:
            await read_request(reader)
        writer.write(payload)
        await writer.drain()
        if read_first:
            writer.close()
            return
        await _hold(reader)
    return run


def tls_garbage() -> Handler:
    """After the ClientHello, a TLS record header that promises a handshake, then random
    bytes for ever."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        writer.write(b"\x16\x03\x03\x40\x00\x02\x00\xff\xff")
        await pump(writer, os.urandom(16384))
    return run


def half_open_tls() -> Handler:
    """Reads the ClientHello, then says nothing, for ever."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _hold(reader)
    return run


def http_response(status: str = "200 OK", headers: list[tuple[str, str]] | None = None,
                  body: bytes = b"", *, raw_headers: bytes = b"") -> bytes:
    """A response; header values may carry any character (encoded as UTF-8)."""
    head = f"HTTP/1.1 {status}\r\n".encode()
    for name, value in headers or []:
        head += f"{name}: {value}\r\n".encode()
    if not any(n.lower() == "content-length" for n, _ in headers or []):
        head += f"Content-Length: {len(body)}\r\n".encode()
    return head + raw_headers + b"Connection: close\r\n\r\n" + body


def gzip_bomb(size: int = 1 << 30) -> bytes:
    """``size`` zero bytes gzip-compressed (1 GiB -> about 1 MiB). Each MiB is compressed
    after a full flush, so every block after the first is the same bytes: built in a
    fraction of the time compressing it all would take."""
    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, 31)
    c2.compress(mib)
    c2.flush(zlib.Z_FULL_FLUSH)
    c2.compress(mib)
    c2.flush(zlib.Z_FULL_FLUSH)
    third = c2.compress(mib) + c2.flush(zlib.Z_FULL_FLUSH)
    assert third == again  # the full flush makes the blocks repeat
    n = size >> 20
    body = first + again * (n - 1)
    trailer = c.flush()  # final empty block + crc + size as the compressor saw them (2 MiB)
    # the gzip trailer: CRC-32 and length mod 2**32 of all n MiB
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(mib, crc)
    end = trailer[:-8] + crc.to_bytes(4, "little") + (size % (1 << 32)).to_bytes(4, "little")
    return body + end


# --- certificates -------------------------------------------------------------------------

def hostile_cert(tmp: Path, name: str, *, cn: str, sans: int = 1,
                 extra_subject: str = "") -> ssl.SSLContext:
    """A self-signed certificate whose subject and issuer carry ``cn`` (and
    ``extra_subject`` as O and OU) with ``sans`` DNS names (thousands make it huge),
    as a server context."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if extra_subject:
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, extra_subject),
                  x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, extra_subject)]
    subject = x509.Name(attrs)
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(f"n{i}-{'x' * 40}.hostile.test")
                                   for i in range(sans)]
    alt.append(x509.IPAddress(ipaddress.ip_address(OUTSIDE)))  # a SAN out of scope
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


# --- a set of hostile servers, one address each ------------------------------------------

@dataclass
class Hostile:
    name: str
    category: str
    handler: Handler
    tls: ssl.SSLContext | None = None
    ip: str = ""
    counter: Counter = field(default_factory=Counter)


@dataclass
class Range:
    """Hostile servers, each on its own address of NET and all on one port, plus
    listeners outside the allow list."""

    port: int
    servers: dict[str, Hostile]
    outside: dict[str, Counter]

    @property
    def ips(self) -> list[str]:
        return [h.ip for h in self.servers.values()]


@contextlib.contextmanager
def serve_range(hostiles: list[Hostile],
                outside: dict[str, tuple[socket.socket, Handler]]) -> Iterator[Range]:
    """Serve ``hostiles`` on NET.1, NET.2, ... and the ``outside`` listeners (already
    bound sockets) on one loop; stop all of them afterwards."""
    loop = Loop()
    socks: list[socket.socket] = []
    try:
        for i, h in enumerate(hostiles, start=1):
            h.ip = f"{NET}.{i}"
        port, socks = bind_same_port([h.ip for h in hostiles])
        for h, sock in zip(hostiles, socks, strict=True):
            loop.serve(sock, guarded(h.handler), h.counter, h.tls)
        counters: dict[str, Counter] = {}
        for name, (sock, handler) in outside.items():
            counters[name] = Counter()
            loop.serve(sock, guarded(handler), counters[name])
        yield Range(port=port, servers={h.name: h for h in hostiles}, outside=counters)
    finally:
        loop.close()
        for sock in socks:
            sock.close()
        for sock, _ in outside.values():
            sock.close()


def listener(host: str) -> socket.socket:
    """A bound, listening socket on a free port of ``host`` (never 2024)."""
    for _ in range(20):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # may be bound again
        s.bind((host, 0))
        if s.getsockname()[1] != FORBIDDEN_PORT:
            s.listen(64)
            return s
        s.close()
    raise RuntimeError(f"no free port on {host}")
