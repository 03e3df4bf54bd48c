"""Which protocol versions and weak cipher classes a TLS endpoint accepts.

Runs only after the first handshake succeeded, with as few extra short connections as
the answers allow, all under one time budget (a server that goes silent once stops the
probing: what was learned is kept, ``ssl.probe_error`` says why it stopped).

- Versions: real handshakes with Python's ssl at ``@SECLEVEL=0``. The first handshake
  offered TLS 1.0-1.3, so the version it chose is the best and nothing above it is
  accepted. Below it: TLS 1.2 (when the best was 1.3), then one handshake offering only
  1.0-1.1 (the server picks the higher it has; a second one for 1.0 only when it picked
  1.1). SSLv3 is compiled out of this OpenSSL: a raw ClientHello asks for it, and only
  when TLS 1.0 is accepted (no stack keeps SSLv3 and drops 1.0). SSLv2 is not asked.
- Weak ciphers: one raw hello offering every weak suite at once; when the server picks
  one, every class that suite belongs to is known accepted and dropped from the next
  offer. A server without weak suites costs one hello (k accepted classes: k + 1).
- JARM (``tls_jarm``): its ten hellos, beside the above.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import warnings
from typing import Any

from netatlas.vantage import source_for

from ..codecs.tls_hello import (
    MAX_ANSWER,
    SSL3,
    SSL3_SUITES,
    TLS12,
    WEAK_SUITES,
    ServerAnswer,
    answer_complete,
    client_hello,
    parse_answer,
)
from ..engine.conn import Conn, sni_for
from ..engine.context import GrabContext
from ..engine.errors import GrabError
from . import tls_jarm

PART_OF = "tls"  # part of that protocol, not one of its own (protocols/__init__.py)

ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


class _Stop(Exception):
    """The server stopped answering like a TLS server: probe no further."""


def budget(ctx: GrabContext) -> tuple[float, float]:
    """(whole budget, one probe's bound): at most a quarter of the grab's total time-out,
    so the protocol grab that follows keeps most of it."""
    whole = min(2 * ctx.opts.read_timeout, ctx.opts.total_timeout / 4)
    return whole, min(ctx.opts.read_timeout, whole)


@functools.cache
def version_context(low: str, high: str) -> ssl.SSLContext:
    """A context that offers only ``low``..``high``, every cipher, no verification."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old is what we ask about
        c.minimum_version = _TLS[low]
        c.maximum_version = _TLS[high]
    with contextlib.suppress(ssl.SSLError):
        c.set_ciphers("ALL:@SECLEVEL=0")
    c.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0)
    return c


async def handshake(ctx: GrabContext, low: str, high: str, timeout: float) -> str | None:
    """The version a full handshake offering ``low``..``high`` settles on; None if the
    server refuses. _Stop on silence or a vanished server."""
    if ctx.opts.limiter is not None:  # (our own connect: Conn.start_tls takes no context)
        await ctx.opts.limiter.wait()  # the scan-wide connection rate, as open_plain does
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                ctx.ep.ip, ctx.ep.port, ssl=version_context(low, high),
                server_hostname=sni_for(ctx.opts.host_header) or "",
                ssl_handshake_timeout=timeout + 1, limit=ctx.opts.max_bytes,
                local_addr=source_for(socket.AF_INET6 if ":" in ctx.ep.ip
                                      else socket.AF_INET))
    except TimeoutError as e:
        raise _Stop(f"{low}-{high} handshake timed out") from e
    except ConnectionRefusedError as e:
        raise _Stop("connection refused") from e
    except (ssl.SSLError, ConnectionError, OSError):
        return None  # an alert or a reset after the hello: this offer is refused
    conn = Conn(reader, writer)
    ctx.conns.append(conn)
    sslobj = writer.get_extra_info("ssl_object")
    version = sslobj.version() if sslobj is not None else None
    conn.abort()  # nothing to say over it: no close_notify round trip
    return version


async def hello(ctx: GrabContext, data: bytes, timeout: float) -> ServerAnswer:
    """Send one raw ClientHello, read the first record back, hang up."""
    try:
        conn = await ctx.open_plain()
    except (GrabError, OSError) as e:
        raise _Stop(f"connect failed: {e}") from e
    try:
        await conn.write(data, timeout)
        got = await conn.read_until_done(answer_complete, MAX_ANSWER, timeout)
    except TimeoutError as e:
        raise _Stop("no answer to a ClientHello") from e
    except (ConnectionError, ssl.SSLError, OSError):
        return ServerAnswer("other")  # reset at the hello: refused
    finally:
        conn.abort()
    answer = parse_answer(got)
    if answer.kind == "incomplete" and got:
        raise _Stop("a partial answer to a ClientHello")  # dripping or truncating
    return answer


async def _versions(ctx: GrabContext, best: str, accepted: dict[str, bool], t: float) -> None:
    if best not in _TLS:
        return
    for v in ORDER[ORDER.index(best) + 1 :]:
        accepted[v] = False  # the first handshake offered it and the server chose lower
    accepted[best] = True
    if best == "TLSv1.3":
        accepted["TLSv1.2"] = await handshake(ctx, "TLSv1.2", "TLSv1.2", t) == "TLSv1.2"
    if best in ("TLSv1.3", "TLSv1.2"):
        got = await handshake(ctx, "TLSv1", "TLSv1.1", t)  # the server picks its higher
        accepted["TLSv1.1"] = got == "TLSv1.1"
        if got != "TLSv1.1":
            accepted["TLSv1"] = got == "TLSv1"
    if "TLSv1" not in accepted:  # the best was 1.1, or 1.1 was accepted above
        accepted["TLSv1"] = await handshake(ctx, "TLSv1", "TLSv1", t) == "TLSv1"
    if accepted.get("TLSv1"):
        answer = await hello(ctx, client_hello(SSL3, SSL3_SUITES, extensions=False), t)
        accepted["SSLv3"] = answer.kind == "hello" and answer.version == SSL3


async def _weak_ciphers(ctx: GrabContext, found: dict[str, dict[str, str]], t: float) -> None:
    offer = set(WEAK_SUITES)
    while offer:
        answer = await hello(ctx, client_hello(TLS12, sorted(offer), ctx.opts.host_header), t)
        if answer.kind != "hello" or answer.cipher not in offer:
            return
        name, classes = WEAK_SUITES[answer.cipher]
        for c in classes:
            found.setdefault(c, {"cipher": name, "version": answer.version_name or "?"})
        offer -= {s for s, (_, cl) in WEAK_SUITES.items() if set(cl) & set(classes)}


def versions_list(accepted: dict[str, bool]) -> list[str]:
    """Shodan's ``ssl.versions``: every version asked about, refused ones with a '-'."""
    return [v if accepted[v] else f"-{v}" for v in ORDER if v in accepted]


async def probe(ctx: GrabContext) -> None:
    """Add ``versions``, ``weak_ciphers`` and ``jarm`` to the ssl section of an endpoint
    whose first TLS handshake succeeded (``probe_error`` when probing stopped early)."""
    section: dict[str, Any] | None = ctx.result.sections.get("ssl")
    if not section or not isinstance(section.get("version"), str):
        return
    whole, t = budget(ctx)
    # JARM's ten hellos run beside the others (two connections at a time at most).
    results = await asyncio.gather(_support(ctx, section, whole, t),
                                   _jarm(ctx, section, whole, t), return_exceptions=True)
    for r in results:  # extras must never cost the grab what it already holds
        if isinstance(r, Exception):
            section.setdefault("probe_error", f"{type(r).__name__}: {r}"[:200])


async def _support(ctx: GrabContext, section: dict[str, Any], whole: float, t: float) -> None:
    accepted: dict[str, bool] = {}
    found: dict[str, dict[str, str]] = {}
    try:
        async with asyncio.timeout(whole):
            await _versions(ctx, section["version"], accepted, t)
            # Weak suites are TLS 1.2-and-older suites: a 1.3-only server has none.
            if any(accepted.get(v) for v in ORDER[:4]):
                await _weak_ciphers(ctx, found, t)
            section["weak_ciphers"] = found  # {} = asked, none accepted
    except _Stop as e:
        section["probe_error"] = str(e)
    except TimeoutError:
        section["probe_error"] = f"TLS probes exceeded their {whole:g}s budget"
    finally:
        section["versions"] = versions_list(accepted)
        if found:  # accepted classes stay facts even when probing stopped early
            section["weak_ciphers"] = found


async def _jarm(ctx: GrabContext, section: dict[str, Any], whole: float, t: float) -> None:
    """``ssl.jarm``, only when all ten hellos were answered (or refused) in time."""
    try:
        async with asyncio.timeout(whole):
            section["jarm"] = await tls_jarm.fingerprint(ctx, t)
    except (tls_jarm.JarmSilence, TimeoutError):
        pass
