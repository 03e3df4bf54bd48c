"""The scan-wide connection limiter: every grab connection (our probes, the scheduler's)
waits for a token from the one bucket a run shares."""

from __future__ import annotations

import asyncio
import time

from netatlas.grab import GrabOptions
from netatlas.grab.engine.context import GrabContext
from netatlas.grab.engine.limit import ConnectLimiter
from netatlas.model import Endpoint, GrabResult

from .conftest import serve

HOST = "127.20.12.203"


async def test_limiter_paces_waiters() -> None:
    limiter = ConnectLimiter(rate=20, burst=1)
    t = time.monotonic()
    await asyncio.gather(*(limiter.wait() for _ in range(6)))
    took = time.monotonic() - t
    assert took >= 5 / 20 - 0.02, took  # the first token is there, five more at 20/s


async def test_grab_connections_share_the_limit() -> None:
    opened: list[float] = []

    async def note(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        opened.append(time.monotonic())

    limiter = ConnectLimiter(rate=10, burst=1)
    async with serve(note, HOST) as port:
        ctxs = [GrabContext(Endpoint(HOST, port), GrabOptions(limiter=limiter), GrabResult())
                for _ in range(2)]  # two grabs of one run
        conns = await asyncio.gather(*(c.open_plain() for c in ctxs for _ in range(2)))
        await asyncio.sleep(0.05)
        for c in conns:
            c.abort()
    assert len(opened) == 4
    assert max(opened) - min(opened) >= 3 / 10 - 0.05  # 4 connections at 10/s
