"""Helpers for grab tests: tiny asyncio servers on 127.20.250.x that we start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from netatlas.grab import GrabOptions

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serve(
    handler: Handler, host: str = "127.20.250.1", ssl_ctx: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Run ``handler`` per connection on an ephemeral port of ``host``; yields the port.
    Every handler task is cancelled on exit (tarpits never end on their own)."""
    tasks: set[asyncio.Task[None]] = set()

    async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(r, w)
        except (Exception, asyncio.CancelledError):
            pass  # a client hanging up mid-exchange is what grab tests provoke
        finally:
            w.transport.abort()

    server = await asyncio.start_server(wrapped, host, 0, ssl=ssl_ctx)
    port = server.sockets[0].getsockname()[1]
    assert port != 2024
    try:
        yield port
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
def fast() -> GrabOptions:
    """Short timeouts so hostile-server tests run in seconds."""
    return GrabOptions(banner_wait=0.3, read_timeout=1.0, connect_timeout=1.0, total_timeout=6.0)
