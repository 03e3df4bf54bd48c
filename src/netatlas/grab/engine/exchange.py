"""One request, one bounded reply, on a fresh connection: the shape of every
silent-protocol probe (mqtt, amqp, ldap, dns, zookeeper)."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable

from .context import GrabContext, Outcome


async def exchange(
    ctx: GrabContext,
    request: bytes,
    done: Callable[[bytes], bool],
    cap: int | None = None,
    disconnect: bytes = b"",
) -> bytes | str:
    """Send ``request`` and read until ``done``, EOF, the cap or read_timeout.

    Returns the reply bytes (possibly b"" when the peer hung up at once), or an
    Outcome word: SILENT when nothing came in time, NEGATIVE when the connection
    failed or was reset. ``disconnect`` is sent, best effort, before closing."""
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    t = ctx.opts.read_timeout
    try:
        await conn.write(request, t)
        limit = min(cap or ctx.opts.max_bytes, ctx.opts.max_bytes)
        reply = await conn.read_until_done(done, limit, t)
        if disconnect and reply:
            with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
                await conn.write(disconnect, min(t, 0.5))
        return reply
    except TimeoutError:
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    finally:
        await conn.close()
