"""Fake UDP servers for tests, on 127.20.11.200+ (this suite's own addresses; never port
2024): each answers every datagram the way a test needs, and counts what it got."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from netatlas.lab import Lab
from netatlas.lab.services import LabError, LabService

HOST = "127.20.11.200"
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4

Reply = Callable[[bytes], list[bytes]]


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply, other: socket.socket | None, delay: float) -> None:
        self.reply = reply
        self.other = other  # answer from this socket instead (another source port)
        self.delay = delay
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self._answer, data, addr)
        else:
            self._answer(data, addr)

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        for out in self.reply(data):
            if self.other is not None:
                self.other.sendto(out, addr)
            elif self.transport is not None:
                self.transport.sendto(out, addr)


@contextlib.asynccontextmanager
async def udp_server(reply: Reply, host: str = HOST, from_other_port: bool = False,
                     delay: float = 0.0) -> AsyncIterator[tuple[int, _Proto]]:
    """Serve on an ephemeral port of ``host``; yields (port, protocol)."""
    loop = asyncio.get_running_loop()
    other = None
    if from_other_port:
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind((host, 0))
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Proto(reply, other, delay), local_addr=(host, 0))
    port = transport.get_extra_info("sockname")[1]
    assert port != 2024
    try:
        yield port, proto
    finally:
        transport.close()
        if other is not None:
            other.close()


def closed_port(host: str = HOST) -> int:
    """A UDP port nothing is bound to right now (so the kernel answers ICMP unreachable)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port != 2024:
            return port


def silent(_: bytes) -> list[bytes]:
    return []


def echo_ok(_: bytes) -> list[bytes]:
    return [b"ok"]


def junk_flood(_: bytes) -> list[bytes]:
    """64 KiB datagrams of junk, several per request."""
    return [bytes([0x30, 0x84]) + b"\xff" * (MAX_DATAGRAM - 2)] * 4


UDP_LAB = ("snmp", "snmp-private", "ntp", "dns-udp")


@pytest.fixture(scope="session")
def udp_lab() -> Iterator[dict[str, LabService]]:
    """The lab's UDP services only (on $NETATLAS_LAB_NET), by name; stops, at the end,
    only the daemons this session started."""
    lab = Lab()
    before = {s.name for s in lab.status() if s.running}
    try:
        services = lab.up(UDP_LAB)
    except LabError as e:  # a daemon's package is missing on this machine
        pytest.skip(f"UDP lab unavailable: {e}")
    yield {s.name: s for s in services if s.name in UDP_LAB and s.running}
    started = [n for n in UDP_LAB if n not in before]
    if started:
        lab.down(started)
