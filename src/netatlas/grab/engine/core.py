"""grab_endpoint: the one entry point. Bounds the whole grab, and turns every failure
into a closed-set status word on a GrabResult (a failed grab is still a record)."""

from __future__ import annotations

import asyncio
import ssl

from ...model import Endpoint, GrabResult
from . import detect, proxy, udp
from .context import GrabContext
from .errors import GrabError
from .options import GrabOptions

_PEER_TROUBLE = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    asyncio.IncompleteReadError,
    ssl.SSLError,
)


async def grab_endpoint(ep: Endpoint, opts: GrabOptions | None = None) -> GrabResult:
    """Talk to one open TCP or UDP endpoint and collect facts. Never raises for network or
    protocol trouble (cancellation still propagates)."""
    opts = opts or GrabOptions()
    res = GrabResult()
    ctx = GrabContext(ep=ep, opts=opts, result=res)
    cm = asyncio.timeout(opts.total_timeout)
    try:
        async with cm:
            if ep.transport == "udp":
                await udp.grab(ep, opts, res)  # datagrams: no connections in ctx
            else:
                await detect.run(ctx)
            canary = opts.proxy_canary or (
                opts.canaries.pick(ep) if opts.canaries is not None else None)
            if canary:
                await proxy.check(ctx, proxy.Canary.parse(canary))
            if opts.canaries is not None:
                opts.canaries.offer(ep, res)
    except TimeoutError as e:
        res.status = "io-timeout"
        if cm.expired():
            res.error = f"grab exceeded total_timeout ({opts.total_timeout}s)"
        else:
            res.error = str(e) or "read timed out"
    except ConnectionRefusedError:
        res.status, res.error = "connection-refused", "connection refused"
    except GrabError as e:
        res.status, res.error = e.status, str(e) or type(e).__name__
    except _PEER_TROUBLE as e:
        res.status, res.error = "protocol-error", f"{type(e).__name__}: {e}"[:300]
    except Exception as e:  # the promise: nothing escapes
        res.status, res.error = "unknown-error", f"{type(e).__name__}: {e}"[:300]
    finally:
        ctx.abort_all()
    res.data = res.data[: opts.max_bytes]
    res.responses = {k: v[: opts.max_bytes] for k, v in res.responses.items()}
    return res


async def check_proxy_later(ep: Endpoint, result: GrabResult, opts: GrabOptions,
                            canary: str) -> None:
    """The open-proxy check for a grab that ended before the scan knew a canary (the
    proxy came before any HTTP service of the scope): fills ``http.proxy`` in
    ``result``, bounded by the grab's total time-out; never raises for the network."""
    ctx = GrabContext(ep=ep, opts=opts, result=result)
    try:
        async with asyncio.timeout(opts.total_timeout):
            await proxy.check(ctx, proxy.Canary.parse(canary))
    except (TimeoutError, GrabError, *_PEER_TROUBLE) as e:
        http = result.sections.get("http")
        if isinstance(http, dict):
            http["proxy"] = {"canary": canary, "error": f"{type(e).__name__}: {e}"[:200]}
    finally:
        ctx.abort_all()
