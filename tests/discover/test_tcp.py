"""Discoverer against real loopback sockets."""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
import time
import types
from collections.abc import Iterator

import pytest

from netatlas.discover import Discoverer
from netatlas.discover import _tcp as tcp_mod
from netatlas.model import Endpoint

from .conftest import BASE, FORBIDDEN_PORT, free_port, open_fds, probes


def _space(ports: list[int]) -> list[Endpoint]:
    """127.20.240.0/30 x ports, like scope would hand them over (minus port 2024)."""
    return [Endpoint(f"{BASE}{i}", p) for i in range(4) for p in ports if p != FORBIDDEN_PORT]


async def _collect(d: Discoverer, it) -> list[tuple[int, Endpoint]]:
    return [x async for x in d.run(it)]


async def test_yields_exactly_the_open_endpoints(listeners: list[Endpoint]) -> None:
    extra = [free_port(BASE + "1") for _ in range(6)]
    ports = sorted({ep.port for ep in listeners} | set(extra) | {FORBIDDEN_PORT})
    space = _space(ports)
    assert all(ep.port != FORBIDDEN_PORT for ep in space)
    d = Discoverer(concurrency=16, timeout=2.0)
    found = await _collect(d, probes(space))
    assert {ep for _, ep in found} == set(listeners)
    for pos, ep in found:  # positions travel with their endpoint
        assert space[pos] == ep
    st = d.stats
    assert st.open == len(listeners)
    assert st.closed == len(space) - len(listeners)
    assert st.filtered == st.errors == 0
    assert st.done == st.sent == len(space)
    assert d.watermark == len(space)


async def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = await asyncio.start_server(lambda r, w: w.close(), "::1", 0)
    except OSError:
        pytest.skip("no ::1")
    port = srv.sockets[0].getsockname()[1]
    closed = free_port(BASE + "1")
    space = [Endpoint("::1", p) for p in sorted({port, closed}) if p != FORBIDDEN_PORT]
    try:
        found = await _collect(Discoverer(), probes(space))
    finally:
        srv.close()
        await srv.wait_closed()
    assert [ep for _, ep in found] == [Endpoint("::1", port)]


async def test_rate_limit_is_a_lower_bound_on_time() -> None:
    n, rate = 300, 600.0
    port = free_port(BASE + "1")
    space = [Endpoint(f"{BASE}{i % 4}", port) for i in range(n)]
    d = Discoverer(rate=rate)
    t0 = time.monotonic()
    assert await _collect(d, probes(space)) == []
    took = time.monotonic() - t0
    assert d.stats.sent == n
    assert took >= n / rate * 0.8


async def test_timeouts_are_filtered_and_retried(stalled: Endpoint) -> None:
    closed = Endpoint(BASE + "1", free_port(BASE + "1"))
    d = Discoverer(timeout=0.3, retries=1)
    found = await _collect(d, probes([stalled, closed]))
    assert found == []
    st = d.stats
    assert (st.filtered, st.closed, st.retried, st.open) == (1, 1, 1, 0)
    assert st.sent == 3  # stalled twice, closed once
    assert d.watermark == 2


async def test_watermark_waits_for_the_slowest(stalled: Endpoint,
                                                listeners: list[Endpoint]) -> None:
    """Position 0 hangs; later ones finish first; the watermark must not pass 0."""
    closed_port = free_port(BASE + "1")
    eps = [stalled] + [Endpoint(BASE + "1", closed_port)] * 50 + [listeners[0]]
    d = Discoverer(timeout=0.5, concurrency=8)
    seen = []
    async for pos, ep in d.run(probes(eps)):
        seen.append((pos, ep, d.watermark))
        assert d.stats.filtered == 0  # the stalled one is still out
    assert seen == [(51, listeners[0], 0)]
    assert d.stats.filtered == 1
    assert d.watermark == len(eps)


async def test_open_counts_as_done_only_once_yielded(listeners: list[Endpoint]) -> None:
    closed_port = free_port(BASE + "2")
    eps = [listeners[0]] + [Endpoint(BASE + "2", closed_port)] * 20 + [listeners[1]]
    d = Discoverer()
    marks = [(pos, d.watermark) async for pos, _ in d.run(probes(eps))]
    # When position 0 is handed over, nothing past it may be claimed done yet
    # unless it is done too; position 21 (open, not yet yielded) caps the mark.
    assert marks[0][0] == 0
    assert marks[0][1] <= 21
    assert marks[1] == (21, 22)


async def test_pulls_lazily_and_stops_cleanly(listeners: list[Endpoint]) -> None:
    closed_port = free_port(BASE + "1")
    pulled = 0

    def endless() -> Iterator[tuple[int, Endpoint]]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield i, (listeners[0] if i == 100 else Endpoint(BASE + "1", closed_port))

    before = open_fds()
    d = Discoverer(concurrency=32, batch=32)
    gen = d.run(endless())
    async for pos, ep in gen:
        assert (pos, ep) == (100, listeners[0])
        break
    await gen.aclose()
    assert pulled <= 100 + 2 * 32
    assert open_fds() == before


async def test_no_fd_leak(listeners: list[Endpoint], stalled: Endpoint) -> None:
    extra = [free_port(BASE + "1") for _ in range(4)]
    space = [*_space(sorted({ep.port for ep in listeners} | set(extra))), stalled]
    before = open_fds()
    for _ in range(3):
        await _collect(Discoverer(timeout=0.2), probes(space))
    assert open_fds() == before


async def test_positions_must_increase() -> None:
    ep = Endpoint(BASE + "1", free_port(BASE + "1"))
    with pytest.raises(ValueError, match="increase"):
        await _collect(Discoverer(), [(5, ep), (5, ep)])


async def test_concurrent_runs_refused() -> None:
    d = Discoverer()
    ep = Endpoint(BASE + "1", free_port(BASE + "1"))
    first = asyncio.ensure_future(_collect(d, probes([ep] * 1000)))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await _collect(d, probes([ep]))
    await first


class _FlakySocketModule:
    """Stands in for ``_socket``: the first sockets fail with local shortages."""

    def __init__(self, fail_socket: int, fail_connect: int) -> None:
        self.fail_socket = fail_socket
        self.fail_connect = fail_connect
        real = tcp_mod._socket.socket
        outer = self

        class Sock(real):  # type: ignore[misc, valid-type]
            first = True

            def connect_ex(self, addr):  # type: ignore[no-untyped-def]
                if self.first and outer.fail_connect > 0:
                    outer.fail_connect -= 1
                    self.first = False
                    return errno.EADDRNOTAVAIL
                self.first = False
                return super().connect_ex(addr)

        def make(*args: object) -> object:
            if self.fail_socket > 0:
                self.fail_socket -= 1
                raise OSError(errno.EMFILE, "Too many open files")
            return Sock(*args)

        self.socket = make


async def test_local_shortages_are_retried_not_closed(
    monkeypatch: pytest.MonkeyPatch, listeners: list[Endpoint]
) -> None:
    flaky = _FlakySocketModule(fail_socket=3, fail_connect=3)
    monkeypatch.setattr(tcp_mod, "_socket", types.SimpleNamespace(socket=flaky.socket))
    closed_port = free_port(BASE + "1")
    eps = [Endpoint(BASE + "1", closed_port)] * 5 + listeners
    d = Discoverer()
    found = await _collect(d, probes(eps))
    assert {ep for _, ep in found} == set(listeners)
    st = d.stats
    assert st.fd_exhausted == 3
    assert st.addr_unavailable == 3
    assert st.closed == 5
    assert st.open == len(listeners)
    assert st.done == len(eps)
    assert d.watermark == len(eps)


def test_bad_arguments() -> None:
    for kwargs in ({"rate": 0}, {"concurrency": 0}, {"timeout": 0}, {"retries": -1}):
        with pytest.raises(ValueError):
            Discoverer(**kwargs)  # type: ignore[arg-type]
