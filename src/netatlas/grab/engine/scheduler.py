"""nmap's probes, scheduled: for an endpoint our own grabbers could not name (or named
only as a generic banner), send the installed nmap's probes the way ``nmap -sV`` does,
within our own time caps.

Order (nmap's): the probes whose ``ports`` (``sslports`` over TLS) hold the port, then
the others by ``rarity`` up to the intensity; NULL and GetRequest already went out. Before
them, what the ALPN or a softmatch makes likely. Each probe on a fresh connection
(through GrabContext, so TLS endpoints are wrapped), its reply kept under the probe's
name in ``result.responses`` and matched against its lines and fallbacks. The first
hard match ends the run; after a softmatch only probes that can still hard-match that
service are sent (nmap's rule).

Bounds: at most ``probe_parallel`` connections at once; each probe waits at most
``min(totalwaitms, read_timeout)``; the whole run stops at ``probe_budget`` seconds, or
at ``silent_budget`` (default half a read timeout) while the endpoint has never answered
anything. detect runs one such silent window right after our own first silence (each
probe then waits half of it, so two generations fit); a silent service that waits for a
well-formed request (DNS, LDAP, SMB) answers well within it, and when nothing at all
answers, detect stops there: a tarpit costs one window instead of a second silent probe.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...identify.nmap_probes import NmapProbes, NmapResult, Probe, shared
from .context import GrabContext

log = logging.getLogger(__name__)

DEFAULT_WAIT_MS = 5000  # nmap's totalwaitms when a probe names none
QUIET_GAP = 0.25  # after the first bytes: a reply is complete once the peer pauses this long
# What a TLS ALPN makes likely (the nmap service names its probes can name).
ALPN_SERVICES = {
    "http/1.1": "http", "h2": "http", "http/1.0": "http", "imap": "imap", "pop3": "pop3",
    "ftp": "ftp", "xmpp-client": "xmpp", "xmpp-server": "xmpp", "mqtt": "mqtt",
    "dot": "domain", "postgresql": "postgresql", "smb": "microsoft-ds", "ldap": "ldap",
}


@dataclass(slots=True)
class Reply:
    probe: Probe
    data: bytes = b""
    closed: bool = False  # the peer hung up (with or without data)
    silent: bool = False  # nothing, and no hang-up, within the wait


@dataclass(slots=True)
class Knowledge:
    """What the grab learned before the scheduler ran, to skip the probes it rules out."""

    sent: set[str] = field(default_factory=set)  # nmap probe names already sent
    probes_sent: int = 0  # by the scheduler itself (0: no probe file, or nothing to send)
    silent_tls: bool = False  # our TLS hello met silence: nmap's hellos would too
    silent_http: bool = False  # our GET met silence: line-based text probes would too
    answered: bool = False  # something ever came back (bytes or a hang-up)
    null_closed: bool = False  # it hung up on our listening connection without a word
    prefer: set[str] = field(default_factory=set)  # services the ALPN / banner suggest


async def database(ctx: GrabContext) -> NmapProbes | None:
    """The shared parsed probe file, read in a thread (a third of a second, once)."""
    path = ctx.opts.nmap_probes
    return await asyncio.to_thread(shared, path) if path else None


def preload(ctx: GrabContext) -> None:
    """Start reading the probe file while the grab listens, off the event loop."""
    if ctx.opts.nmap_probes and ctx.opts.nmap_intensity >= 0:
        asyncio.get_running_loop().run_in_executor(None, shared, ctx.opts.nmap_probes)


def is_tls_hello(payload: bytes) -> bool:
    return payload.startswith(b"\x16\x03") or (
        len(payload) > 3 and payload[0] & 0x80 != 0 and payload[2] == 0x01)  # SSLv2 hello


def is_text_lines(payload: bytes) -> bool:
    """A line-based text request: a server that ignored our GET line ignores it too."""
    return payload.endswith(b"\n") and all(32 <= c < 127 or c in (9, 10, 13) for c in payload)


def plan(db: NmapProbes, port: int, tls: bool, intensity: int,
         know: Knowledge | None = None) -> list[Probe]:
    """The TCP probes to send, in order (sans-IO)."""
    know = know or Knowledge()
    likely: list[Probe] = []
    rest: list[Probe] = []
    for p in db.probes:
        if p.protocol != "TCP" or p.name == "NULL" or p.name in know.sent or not p.payload:
            continue
        if know.silent_tls and is_tls_hello(p.payload):
            continue
        if know.silent_http and is_text_lines(p.payload):
            continue
        if p.covers(port, tls):
            likely.append(p)  # nmap sends these whatever their rarity
        elif (p.rarity or 9) <= intensity:
            rest.append(p)
    rest.sort(key=lambda p: p.rarity or 9)  # stable: file order within a rarity
    order = likely + rest
    if know.prefer:
        first = [p for p in order if any(db.can_match(p, s) for s in know.prefer)]
        order = first + [p for p in order if p not in first]
    return order


def prefer_from(ctx: GrabContext) -> set[str]:
    alpn = (ctx.result.sections.get("ssl") or {}).get("alpn")
    svc = ALPN_SERVICES.get(alpn or "")
    return {svc} if svc else set()


async def send(ctx: GrabContext, probe: Probe, wait: float) -> Reply:
    """One probe on a fresh connection; what came back within ``wait``."""
    opts = ctx.opts
    conn = await ctx.open()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        await conn.write(probe.payload, wait)
        try:
            first = await conn.read_some(max(deadline - loop.time(), 0.01))
        except TimeoutError:
            return Reply(probe, silent=True)
        except (ConnectionError, ssl.SSLError):
            return Reply(probe, closed=True)
        if not first:
            return Reply(probe, closed=True)
        buf = bytearray(first)
        closed = False
        while len(buf) < opts.max_bytes:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                more = await conn.read_some(min(QUIET_GAP, left), opts.max_bytes - len(buf))
            except TimeoutError:
                break
            except (ConnectionError, ssl.SSLError):
                closed = True
                break
            if not more:
                closed = True
                break
            buf += more
        return Reply(probe, bytes(buf[: opts.max_bytes]), closed=closed)
    finally:
        conn.abort()  # a polite close would wait on peers that ignore it


def _wait_for(probe: Probe, ctx: GrabContext) -> float:
    ms = probe.totalwaitms or DEFAULT_WAIT_MS
    return min(ms / 1000, ctx.opts.read_timeout)


def _first_hard(results: Iterable[NmapResult]) -> NmapResult | None:
    return next((r for r in results if not r.soft), None)


async def run(ctx: GrabContext, know: Knowledge, deadline: float,
              window: float | None = None) -> NmapResult | None:
    """Send nmap's probes until one hard-matches; returns that match (or the last
    softmatch). ``deadline``: loop time the grab as a whole must end by. ``window``: a
    fixed budget (the early round after our first silence) instead of the silent /
    probe budgets. Every probe sent is added to ``know.sent``."""
    opts = ctx.opts
    if opts.nmap_intensity < 0:
        return None
    db = await database(ctx)
    if db is None:
        return None
    loop = asyncio.get_running_loop()
    # what earlier replies (NULL greeting, GetRequest) already say
    earlier = await asyncio.to_thread(db.match, dict(ctx.result.responses))
    hit = _first_hard(earlier)
    if hit is not None:
        return hit
    soft = next((r for r in earlier if r.soft), None)
    if soft is not None:
        know.prefer.add(soft.service)
    know.prefer |= prefer_from(ctx)
    queue = plan(db, ctx.ep.port, ctx.tls, opts.nmap_intensity, know)
    start = loop.time()
    silent_budget = (opts.silent_budget if opts.silent_budget is not None
                     else opts.read_timeout / 2)
    inflight: dict[asyncio.Task[Reply], Probe] = {}
    quick_closes = 0

    def stop_at() -> float:
        budget = window if window is not None else (
            opts.probe_budget if know.answered else silent_budget)
        return min(start + budget, deadline)

    try:
        while queue or inflight:
            while queue and len(inflight) < max(opts.probe_parallel, 1):
                probe = queue.pop(0)
                if soft is not None and not db.can_match(probe, soft.service):
                    continue
                left = stop_at() - loop.time()
                if left <= 0.05:
                    queue.clear()
                    break
                wait = min(_wait_for(probe, ctx), left)
                if window is not None:  # two generations of probes fit in the window
                    wait = min(wait, window / 2)
                know.sent.add(probe.name)
                know.probes_sent += 1
                inflight[asyncio.ensure_future(send(ctx, probe, wait))] = probe
            if not inflight:
                break
            done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED,
                                         timeout=max(stop_at() - loop.time(), 0.01))
            if not done:
                break  # the budget ran out with probes still met by silence
            for task in done:
                probe = inflight.pop(task)
                try:
                    reply = task.result()
                except ConnectionRefusedError:
                    queue.clear()  # it stopped accepting (a connection limit?): keep what
                    continue  # we have rather than lose the grab to a status word
                except Exception as exc:  # one probe's trouble, not the grab's
                    log.debug("probe %s to %s: %s", probe.name, ctx.ep, exc)
                    continue
                if reply.silent:
                    continue
                know.answered = True
                if not reply.data:
                    quick_closes += 1
                    # tcpwrapped (nmap's NULL rule; our listen ends well within its
                    # tcpwrappedms): it hung up on the NULL probe, and on a window of
                    # probes since, without a word: stop there
                    if (know.null_closed and quick_closes >= max(opts.probe_parallel, 1)
                            and not _any_data(ctx)):
                        queue.clear()
                    continue
                ctx.result.responses[probe.name] = reply.data
                res = await asyncio.to_thread(db.match_probe, probe, reply.data)
                if res is None:
                    continue
                if not res.soft:
                    return res
                if soft is None:
                    soft = res  # from now on only probes that can name this service
        return soft
    finally:
        for task in inflight:
            task.cancel()
        if inflight:  # let them abort their connections; a cancel of ours still propagates
            await asyncio.wait(inflight, timeout=0.5)


def _any_data(ctx: GrabContext) -> bool:
    return any(ctx.result.responses.values())
