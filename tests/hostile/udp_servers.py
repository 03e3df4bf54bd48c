"""Hostile UDP servers for the standing hostile suite, organised as the TCP ones in
servers.py: each one a small behaviour with one bad habit, on its own address of
UDP_NET (127.20.72.x), all on one port, served from a background event loop; what is
"out of scope" lives on 127.20.71.x and counts every datagram it receives.

A behaviour is called with each datagram a server receives and answers through the
server's transport (or another socket: a reply from elsewhere). Port 2024 is never
bound or scanned."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

from tests.hostile.servers import ESCAPES, FORBIDDEN_PORT, OUTSIDE, Loop

UDP_NET = "127.20.72"
MAX_DATAGRAM = 65_507  # the largest UDP payload IPv4 carries
FLOOD_SECONDS = 3.0  # a flood lasts this long per scanner socket, then stops by itself

Addr = tuple[str, int]


@dataclass
class Datagrams:
    """Datagrams a server received: the proof it was tried, or (out of scope) that it
    must not have been."""

    received: int = 0


class Server(asyncio.DatagramProtocol):
    def __init__(self, behaviour: Behaviour, counter: Datagrams) -> None:
        self.behaviour = behaviour
        self.counter = counter
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.counter.received += 1
        self.behaviour(self, data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # the scanner's socket is gone (ICMP port unreachable): expected

    def send(self, data: bytes, addr: Addr) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


Behaviour = Callable[[Server, bytes, Addr], None]


# --- what a request looks like ----------------------------------------------------------

def kind(request: bytes) -> str:
    """Which of the scanner's probes ``request`` is: dns, snmp, ntp, ntp-control, other."""
    if request[:1] == b"\x30":
        return "snmp"
    # one question, no answers: a DNS query whatever its (random) id
    if len(request) >= 17 and request[2] & 0x80 == 0 and request[4:10] == b"\0\1\0\0\0\0":
        return "dns"
    if len(request) == 48 and request[0] & 7 == 3:
        return "ntp"
    if len(request) >= 12 and request[0] & 7 == 6 and request[1] & 0x1F == 2:
        return "ntp-control"
    return "other"


# --- behaviours: one bad habit each -------------------------------------------------------

def flood(size: int = 512, burst: int = 32) -> Behaviour:
    """Every socket that writes gets ``burst`` datagrams every 2 ms for FLOOD_SECONDS
    (megabytes a second, far past what a probe reads), whatever it asked."""
    noise = os.urandom(size)
    active: set[Addr] = set()

    async def pour(server: Server, addr: Addr) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + FLOOD_SECONDS
        try:
            while loop.time() < end:
                for _ in range(burst):
                    server.send(noise, addr)
                await asyncio.sleep(0.002)
        finally:
            active.discard(addr)

    def run(server: Server, data: bytes, addr: Addr) -> None:
        if addr not in active:
            active.add(addr)
            task = asyncio.get_running_loop().create_task(pour(server, addr))
            server.tasks.add(task)
            task.add_done_callback(server.tasks.discard)
    return run


def oversize() -> Behaviour:
    """Two datagrams of the largest size UDP carries, a BER length promising 2 GB and
    escapes first, to every request."""
    body = b"\x30\x84\x7f\xff\xff\xff" + ESCAPES.encode() + os.urandom(MAX_DATAGRAM)

    def run(server: Server, data: bytes, addr: Addr) -> None:
        for _ in range(2):
            server.send(body[:MAX_DATAGRAM], addr)
    return run


def reply_from(sock: socket.socket) -> Behaviour:
    """The request echoed back (what a naive scanner takes for an answer) — from
    ``sock``: another port of the same address, or another address altogether."""
    def run(server: Server, data: bytes, addr: Addr) -> None:
        with contextlib.suppress(OSError):
            sock.sendto(data, addr)
    return run


def dns_garbage() -> Behaviour:
    """A DNS answer with the query's id promising 65,535 questions and answers, whose
    names are compression pointers to themselves, escapes after them."""
    def run(server: Server, data: bytes, addr: Addr) -> None:
        if kind(data) != "dns":
            return
        head = data[:2] + b"\x81\x80" + b"\xff\xff" * 4
        loop = b"\xc0\x0c" + b"\x00\x10\x00\x03" + b"\x00\x00\x00\x00\xff\xff"
        server.send(head + loop * 200 + ESCAPES.encode(), addr)
    return run


def _ber_nested(depth: int, core: bytes) -> bytes:
    """``core`` inside ``depth`` SEQUENCEs, every length right (a parser that recurses
    per level goes ``depth`` deep)."""
    out = core
    for _ in range(depth):
        n = len(out)
        length = bytes([n]) if n < 0x80 else b"\x82" + struct.pack(">H", n)
        out = b"\x30" + length + out
    return out


def snmp_garbage() -> Behaviour:
    """To an SNMP request: SEQUENCEs nested 1,500 deep (past Python's recursion limit),
    then a message whose first length promises 2 GB."""
    deep = _ber_nested(1500, b"\x04\x02ok")
    liar = b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01\x04\x06public" + os.urandom(512)

    def run(server: Server, data: bytes, addr: Addr) -> None:
        if kind(data) == "snmp":
            server.send(deep, addr)
            server.send(liar, addr)
    return run


def ntp_garbage(fragments: int = 200) -> Behaviour:
    """To a client request: a reply that echoes its nonce (so it is taken as ours) with
    a stratum, version and refid no server sends, and 2 KiB of extension junk; to a
    control request: ``fragments`` READVAR fragments all saying more follow, each
    promising 65,535 bytes, with escapes in the variables."""
    def run(server: Server, data: bytes, addr: Addr) -> None:
        what = kind(data)
        if what == "ntp":
            reply = (bytes([0xFC, 0xFF, 0x7F, 0x80]) + b"\xff" * 8 + ESCAPES.encode()[:4]
                     + b"\xff" * 8 + data[40:48] + b"\xff" * 16 + os.urandom(2048))
            server.send(reply, addr)
        elif what == "ntp-control":
            seq = data[2:4]
            text = f'version="{ESCAPES}", x={"y" * 400}'.encode()
            for i in range(fragments):
                head = b"\x16\xa2" + seq + b"\x00\x00\x00\x00" + struct.pack(
                    ">HH", (i * 468) & 0xFFFF, 0xFFFF)
                server.send(head + text[:468], addr)
    return run


# --- a set of hostile UDP servers, one address each --------------------------------------

@dataclass
class Hostile:
    name: str
    category: str
    behaviour: Behaviour | None  # None: made by serve_udp_range (it needs a socket)
    ip: str = ""
    counter: Datagrams = field(default_factory=Datagrams)
    recorded: bool = True  # a scan should store it (False: it never answered as itself)


@dataclass
class Range:
    port: int
    servers: dict[str, Hostile]
    outside: Datagrams  # datagrams that reached the out-of-scope address

    @property
    def ips(self) -> list[str]:
        return [h.ip for h in self.servers.values()]


def bind_same_port(hosts: list[str], tries: int = 50) -> tuple[int, list[socket.socket]]:
    """UDP sockets on one port number free on every host, never 2024."""
    for _ in range(tries):
        socks: list[socket.socket] = []
        try:
            first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(first)
            first.bind((hosts[0], 0))
            port = int(first.getsockname()[1])
            if port == FORBIDDEN_PORT:
                raise OSError("forbidden port")
            for host in hosts[1:]:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, port))
        except OSError:
            for s in socks:
                s.close()
            continue
        return port, socks
    raise RuntimeError("no UDP port free on every hostile address")


def _bound(host: str) -> socket.socket:
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, 0))
        if s.getsockname()[1] != FORBIDDEN_PORT:
            return s
        s.close()
    raise RuntimeError(f"no free UDP port on {host}")


def catalog() -> list[Hostile]:
    return [
        Hostile("udp-flood", "flood", flood()),
        Hostile("udp-oversize", "oversize", oversize()),
        # replies from elsewhere are no replies: never open, never stored
        Hostile("udp-other-port", "elsewhere", None, recorded=False),
        Hostile("udp-other-address", "elsewhere", None, recorded=False),
        Hostile("udp-dns-garbage", "garbage", dns_garbage()),
        Hostile("udp-snmp-garbage", "garbage", snmp_garbage()),
        Hostile("udp-ntp-garbage", "garbage", ntp_garbage()),
    ]


UDP_CATEGORY = {h.name: h.category for h in catalog()}


@contextlib.contextmanager
def serve_udp_range(hostiles: list[Hostile]) -> Iterator[Range]:
    """Serve ``hostiles`` on UDP_NET.1, .2, ... (one port) and a counting sink on
    OUTSIDE, on one loop; stop all of them afterwards. ``udp-other-port`` answers from
    another port of its address, ``udp-other-address`` from the sink."""
    loop = Loop()
    extra: list[socket.socket] = []
    socks: list[socket.socket] = []
    transports: list[asyncio.BaseTransport] = []
    outside = Datagrams()
    try:
        for i, h in enumerate(hostiles, start=1):
            h.ip = f"{UDP_NET}.{i}"
        port, socks = bind_same_port([h.ip for h in hostiles])
        sink = _bound(OUTSIDE)
        extra.append(sink)
        for h in hostiles:
            if h.name == "udp-other-port":
                other = _bound(h.ip)
                extra.append(other)
                h.behaviour = reply_from(other)
            elif h.name == "udp-other-address":
                h.behaviour = reply_from(sink)

        async def start() -> None:
            ev = asyncio.get_running_loop()
            for h, sock in zip(hostiles, socks, strict=True):
                assert h.behaviour is not None
                t, _ = await ev.create_datagram_endpoint(
                    lambda h=h: Server(h.behaviour, h.counter), sock=sock)  # type: ignore[misc]
                transports.append(t)
            # the sink only counts: what reaches it was sent out of scope
            t, _ = await ev.create_datagram_endpoint(
                lambda: Server(lambda *_: None, outside), sock=sink)
            transports.append(t)

        asyncio.run_coroutine_threadsafe(start(), loop.loop).result(10)
        yield Range(port=port, servers={h.name: h for h in hostiles}, outside=outside)
    finally:
        async def close() -> None:
            for t in transports:
                t.close()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop.loop).result(10)
        loop.close()
        for s in socks + extra:
            s.close()
