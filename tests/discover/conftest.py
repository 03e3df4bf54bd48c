"""Loopback listeners for the discover tests (127.20.240.x only; port 2024 is never used)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from netatlas.model import Endpoint

FORBIDDEN_PORT = 2024
BASE = "127.20.240."


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def free_port(ip: str) -> int:
    """A port nothing listens on right now (bind, read, release)."""
    while True:
        with socket.socket() as s:
            s.bind((ip, 0))
            port = s.getsockname()[1]
        if port != FORBIDDEN_PORT:
            return port


def probes(endpoints: list[Endpoint], start: int = 0) -> Iterator[tuple[int, Endpoint]]:
    for i, ep in enumerate(endpoints, start):
        assert ep.port != FORBIDDEN_PORT
        yield i, ep


async def _drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def listeners() -> AsyncIterator[list[Endpoint]]:
    """Four asyncio servers on 127.20.240.1-2, ephemeral ports."""
    servers = []
    eps: list[Endpoint] = []
    for ip in (BASE + "1", BASE + "1", BASE + "2", BASE + "2"):
        srv = await asyncio.start_server(_drop, ip, 0)
        port = srv.sockets[0].getsockname()[1]
        if port == FORBIDDEN_PORT:  # pragma: no cover - astronomically unlikely
            srv.close()
            continue
        servers.append(srv)
        eps.append(Endpoint(ip, port))
    yield eps
    for srv in servers:
        srv.close()
        await srv.wait_closed()


@pytest.fixture
def stalled() -> Iterator[Endpoint]:
    """A listener whose accept queue is full: further SYNs are dropped, so a connect
    to it neither succeeds nor is refused — a 'filtered' port on loopback."""
    ip = BASE + "3"
    lsock = socket.socket()
    lsock.bind((ip, 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    assert port != FORBIDDEN_PORT
    fillers = []
    for _ in range(2):  # backlog 0 admits one; the second makes sure it is full
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((ip, port))
        fillers.append(c)
    yield Endpoint(ip, port)
    for c in fillers:
        c.close()
    lsock.close()
