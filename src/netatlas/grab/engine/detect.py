"""Which protocol is this? Listen first (server-speaks-first greetings), then probe
silent endpoints on fresh connections in port-hinted order; TLS found -> record it
and detect again inside. Each step hands over to one protocol grabber. What none of
them names goes to the scheduler (grab/engine/scheduler.py): nmap's probes, until one
matches; a match in a protocol we speak hands over to its grabber after all.

Which protocols there are, their ports, greeting tests and probes: the registry
(``grab.protocols``); the tables below are derived from it. TLS and HTTP are layers
detect drives itself (``_LAYERS``)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from ..protocols import http, http2, registry, tls_probes
from ..protocols.tls import record_tls
from . import banner
from . import scheduler as nmap_scheduler
from .conn import Conn
from .context import GrabContext, Outcome
from .errors import ProtocolError
from .registry import Greeting, GreetingGrabber, GreetingTest, Probe

# Our own probes stop after two silences (a tarpit, or a protocol that waits for more
# bytes than ours carry: slapd and DNS on an unusual port); then the scheduler decides,
# within its silent budget, with the nmap probes worth sending to a silent endpoint.
OWN_SILENCES = 2


@dataclass(frozen=True, slots=True)
class Tables:
    """What detect derives from the registry; rebuilt when the registry changes."""

    version: int
    port_hints: dict[int, str]  # which probe to try first on a port
    tls_inner: dict[int, str]  # inside TLS on a port: which probe first ("http": HTTP)
    default_order: tuple[str, ...]  # probes tried on any port, in order
    frame_only: tuple[str, ...]  # beside the first silence; and after hang-ups
    hang_up_only: tuple[str, ...]  # only after hang-ups on everything
    greetings: tuple[tuple[str, GreetingTest], ...]  # in the order they are tested
    binary_greetings: tuple[GreetingTest, ...]
    greeting_grabbers: dict[str, GreetingGrabber]
    probes: dict[str, Probe]
    in_replies: tuple[tuple[str, Callable[[bytes], bool]], ...]
    behind_http: tuple[tuple[str, Callable[[bytes], bool]], ...]
    nmap_replies: tuple[tuple[str, Callable[[list[bytes]], int]], ...]
    nmap_services: dict[str, str]  # nmap's service names for ours, where they differ
    same_as_nmap: dict[str, str]  # our probe -> the nmap probe it stands for


def _derive() -> Tables:
    protocols = list(registry)
    probes: dict[str, Probe] = {}
    for p in protocols:
        probe = _LAYERS.get(p.name) or p.probe
        if probe is not None:
            probes[p.name] = probe
    port_hints: dict[int, str] = {}
    tls_inner: dict[int, str] = {}
    for p in protocols:
        if p.name in probes:
            for port in p.ports:
                port_hints.setdefault(port, p.name)
            for port in p.tls_ports:
                tls_inner.setdefault(port, p.name)
    return Tables(
        version=registry.version,
        port_hints=port_hints,
        tls_inner=tls_inner,
        default_order=tuple(p.name for p in protocols
                            if p.unhinted == "in-order" and p.name in probes),
        frame_only=tuple(p.name for p in protocols
                         if p.unhinted == "frame-only" and p.name in probes),
        hang_up_only=tuple(p.name for p in protocols
                           if p.unhinted == "hang-up-only" and p.name in probes),
        greetings=tuple((p.name, p.greeting) for p in protocols if p.greeting is not None),
        binary_greetings=tuple(p.greeting for p in protocols
                               if p.greeting is not None and p.binary_greeting),
        greeting_grabbers={p.name: p.grab for p in protocols if p.grab is not None},
        probes=probes,
        in_replies=tuple((p.name, p.in_replies) for p in protocols
                         if p.in_replies is not None),
        behind_http=tuple((p.name, p.behind_http) for p in protocols
                          if p.behind_http is not None and p.name in probes),
        nmap_replies=tuple((p.name, p.nmap_replies) for p in protocols
                           if p.nmap_replies is not None),
        nmap_services={alias: p.name for p in protocols for alias in p.nmap_names},
        same_as_nmap={p.name: p.nmap_probe for p in protocols if p.nmap_probe is not None},
    )


_tables: Tables | None = None


def tables() -> Tables:
    """The derived tables, for the registry as it is now."""
    global _tables
    t = _tables
    if t is None or t.version != registry.version:
        t = _tables = _derive()
    return t


def classify_greeting(greeting: bytes, port: int = 0) -> str | None:
    """Name the protocol from the first bytes a server sent (sans-IO): the first whose
    test is sure, else the first that takes it for its port's."""
    by_port = None
    for name, test in tables().greetings:
        sure = test(greeting, port)
        if sure is Greeting.YES:
            return name
        if sure is Greeting.PORT and by_port is None:
            by_port = name
    return by_port


async def read_greeting(ctx: GrabContext, conn: Conn) -> bytes:
    """Wait up to banner_wait for the server to speak; the bytes are pushed back so the
    protocol grabber reads them again from the start."""
    opts = ctx.opts
    try:
        first = await conn.read_some(opts.banner_wait)
    except TimeoutError:
        return b""
    except (ConnectionError, ssl.SSLError):
        return b""
    greeting = first
    if first and b"\n" not in first and not any(test(first, ctx.ep.port) is Greeting.YES
                                                for test in tables().binary_greetings):
        # A text greeting split across segments: wait a little for its line end.
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
            greeting += await conn.read_until_done(
                lambda b: b"\n" in b, opts.max_bytes - len(first), min(opts.read_timeout, 1.0)
            )
    conn.unread(greeting)
    return greeting


async def on_greeting(ctx: GrabContext, conn: Conn, greeting: bytes) -> None:
    ctx.result.responses["NULL"] = greeting[: ctx.opts.max_bytes]
    proto = classify_greeting(greeting, ctx.ep.port)
    grabber = tables().greeting_grabbers.get(proto or "")
    if grabber is not None:
        await grabber(ctx, conn)
    else:
        await banner.collect(ctx, conn, proto)
        if proto is None:  # a greeting we cannot name: ask nmap's probes
            await conn.close()
            await schedule(ctx, nmap_scheduler.Knowledge(answered=True))


async def tls_probe(ctx: GrabContext) -> str:
    conn = await ctx.open_plain()
    try:
        sslobj = await conn.start_tls(ctx.opts.read_timeout, ctx.opts.host_header)
    except TimeoutError:
        conn.abort()  # mid-handshake: a polite close would only wait on the peer
        return Outcome.SILENT
    except (ssl.SSLError, ConnectionError, OSError, ProtocolError):
        conn.abort()
        return Outcome.NEGATIVE
    record_tls(ctx, sslobj)
    try:
        await detect_inside_tls(ctx, conn, sslobj.selected_alpn_protocol())
    finally:
        await conn.close()
    return Outcome.POSITIVE


async def detect_inside_tls(ctx: GrabContext, conn: Conn, alpn: str | None) -> None:
    """HTTP first: ALPN or the port says so outright; otherwise listen for a greeting
    (imaps, pop3s, smtps...) and fall back to an HTTP probe."""
    # -- TLS extras (grab/protocols/tls_probes.py, grab/protocols/http2.py): accepted
    # versions and weak ciphers on a few short extra connections, time-bounded; h2 is read
    # on this conn.
    await tls_probes.probe(ctx)
    if alpn == "h2":
        await http2.grab(ctx, conn)  # GET / over HTTP/2, then the HTTP/1.1 grab
        return
    # -- end of TLS extras
    inner = tables().tls_inner.get(ctx.ep.port)
    if alpn in ("h2", "http/1.1") or inner == "http":
        await conn.close()
        await http.grab(ctx)
        return
    if inner and alpn is None:
        await conn.close()
        if await tables().probes[inner](ctx) == Outcome.POSITIVE:
            return
        outcome = await http.probe(ctx)
        if outcome == Outcome.POSITIVE:
            await http.grab(ctx)
        else:
            # the handshake succeeded: it is alive, whatever the probes meet
            await schedule(ctx, nmap_scheduler.Knowledge(sent={"GetRequest"}, answered=True),
                           {inner})
        return
    greeting = await read_greeting(ctx, conn)
    if greeting:
        await on_greeting(ctx, conn, greeting)
        return
    await conn.close()
    outcome = await http.probe(ctx)
    if outcome == Outcome.POSITIVE:
        await http.grab(ctx)
        return
    await schedule(ctx, nmap_scheduler.Knowledge(
        sent={"GetRequest"}, silent_http=outcome == Outcome.SILENT, answered=True))


async def http_probe(ctx: GrabContext) -> str:
    outcome = await http.probe(ctx)
    if outcome == Outcome.POSITIVE:
        # a server of another protocol that also answers HTTP (an RTSP server tunnelling
        # over HTTP) is first of all that: its probe goes before the HTTP grab
        reply = ctx.result.responses.get("GetRequest", b"")[:4096]
        t = tables()
        for name, says_so in t.behind_http:
            if says_so(reply) and await t.probes[name](ctx) == Outcome.POSITIVE:
                return outcome
        await http.grab(ctx)
    return outcome


# The engine's own layers: TLS (detect again inside) and HTTP (another protocol may
# answer it); the registry declares their ports and order, detect their probes.
_LAYERS: dict[str, Probe] = {"tls": tls_probe, "http": http_probe}


def hint_from_replies(responses: dict[str, bytes]) -> str | None:
    """Another probe's reply that gives a silent protocol away (an AMQP broker answers
    any junk with its own protocol header): the registry's ``in_replies`` tests."""
    tests = tables().in_replies
    for reply in responses.values():
        for name, gives_away in tests:
            if gives_away(reply):
                return name
    return None


HANDOVER_RESERVE = 3.0  # seconds
_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar("grab_deadline")
_NULL_CLOSED: contextvars.ContextVar[bool] = contextvars.ContextVar("null_closed", default=False)


async def schedule(ctx: GrabContext, know: nmap_scheduler.Knowledge,
                   tried: set[str] | None = None, window: float | None = None) -> bool:
    """Run nmap's probes; a hard match in a protocol we speak hands over to our grabber,
    whose parsed facts then replace nmap's guess (its replies are dropped; the grabber
    keeps its own). True when something named the endpoint."""
    loop = asyncio.get_running_loop()
    # what the grab has left, less a share kept for the grabber a match hands over to
    deadline = _DEADLINE.get(loop.time() + ctx.opts.total_timeout) - min(
        HANDOVER_RESERVE, ctx.opts.total_timeout / 5)
    know.sent |= set(ctx.result.responses)
    before = set(ctx.result.responses)
    found = await nmap_scheduler.run(ctx, know, deadline, window)
    if found is None:
        return False
    if found.soft:
        return False  # a softmatch names a service, not a product: identify keeps it
    t = tables()
    ours = t.nmap_services.get(found.service, found.service)
    if ours in t.probes and ours not in (tried or set()) and not (
            ours in ("tls", "http") and ctx.tls):
        replies = {k: v for k, v in ctx.result.responses.items() if k not in before}
        outcome = Outcome.NEGATIVE
        with contextlib.suppress(TimeoutError, ConnectionError, ProtocolError, ssl.SSLError):
            outcome = await t.probes[ours](ctx)
        if outcome == Outcome.POSITIVE:
            for k, v in replies.items():
                if ctx.result.responses.get(k) is v:
                    del ctx.result.responses[k]
            return True
    ctx.result.service = ctx.result.service or found.service
    if not ctx.result.data:
        ctx.result.data = ctx.result.responses.get(found.probe, b"")
    return True


def learn(know: nmap_scheduler.Knowledge, outcomes: dict[str, str], ctx: GrabContext) -> None:
    """What our own probes' outcomes tell the scheduler: met with silence, the nmap
    probe ours stands for would be too."""
    same = tables().same_as_nmap
    know.sent |= {same[n] for n in outcomes if n in same}
    know.silent_tls = outcomes.get("tls") == Outcome.SILENT
    know.silent_http = outcomes.get("http") == Outcome.SILENT
    know.answered = know.answered or Outcome.NEGATIVE in outcomes.values() or bool(
        ctx.result.responses)


# Protocols that answer only a well-formed frame of their own and either wait or hang up
# on anything else (``unhinted="frame-only"``): tried beside the first silence's window of
# nmap probes, or, when every probe of ours was met by a hang-up and not one byte, before
# nmap's probes. So an odd port finds them without depending on how far nmap's schedule
# gets (its TerminalServer probe also draws an S7 PLC's COTP confirm, but under load it
# sometimes did not get there, and an S7 on port 1102 went unnamed). Those that never
# wait (``"hang-up-only"``) only when everything was met by a hang-up.


def hung_up_on_everything(outcomes: dict[str, str], ctx: GrabContext) -> bool:
    return not ctx.result.responses and all(
        o == Outcome.NEGATIVE for o in outcomes.values())


async def _frame_only_probes(ctx: GrabContext, tried: set[str],
                             names: tuple[str, ...] | None = None) -> bool:
    t = tables()
    for name in t.frame_only if names is None else names:
        if name in tried:
            continue
        tried.add(name)
        with contextlib.suppress(TimeoutError, ConnectionError, ProtocolError, ssl.SSLError):
            if await t.probes[name](ctx) == Outcome.POSITIVE:
                return True
    return False


def silent_window(ctx: GrabContext) -> float:
    opts = ctx.opts
    return opts.silent_budget if opts.silent_budget is not None else opts.read_timeout / 2


def protocols_in_replies(responses: dict[str, bytes]) -> list[str]:
    """Our protocols that replies to nmap's probes suggest: one they give away, then
    those the replies suggest (``nmap_replies``: a COTP connection confirm is RDP when it
    carries an RDP negotiation response, otherwise more likely an S7 PLC), likeliest
    first."""
    out: list[str] = []
    hint = hint_from_replies(responses)
    if hint:
        out.append(hint)
    replies = list(responses.values())
    scored = [(score, name) for name, suggests in tables().nmap_replies
              if (score := suggests(replies)) > 0]
    out += [name for _, name in sorted(scored, key=lambda s: -s[0])]
    return out


def probe_order(port: int) -> list[str]:
    t = tables()
    hint = t.port_hints.get(port)
    order = [hint] if hint else []
    return order + [p for p in t.default_order if p != hint]


async def _listen(ctx: GrabContext) -> bool:
    """Connect and wait for a greeting; True if one came and was grabbed. A server that
    hangs up at once (sshd's MaxStartups drop, a busy daemon) gets one more try."""
    for attempt in range(2):
        conn = await ctx.open_plain()
        try:
            greeting = await read_greeting(ctx, conn)
            if greeting:
                await on_greeting(ctx, conn, greeting)
                return True
            if not conn.at_eof or attempt:
                _NULL_CLOSED.set(conn.at_eof)
                return False
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    return False


async def run(ctx: GrabContext) -> None:
    """Detect and grab; fills ctx.result, raises for core to turn into a status word."""
    loop = asyncio.get_running_loop()
    _DEADLINE.set(loop.time() + ctx.opts.total_timeout)
    nmap_scheduler.preload(ctx)
    if await _listen(ctx):
        return
    outcomes: dict[str, str] = {}
    order = probe_order(ctx.ep.port)
    tried: set[str] = set()
    know = nmap_scheduler.Knowledge(null_closed=_NULL_CLOSED.get())
    while order:
        name = order.pop(0)
        if name in tried:
            continue
        tried.add(name)
        outcome = outcomes[name] = await tables().probes[name](ctx)
        if outcome == Outcome.POSITIVE:
            return
        learn(know, outcomes, ctx)
        if outcome == Outcome.SILENT and list(outcomes.values()).count(Outcome.SILENT) == 1:
            # The first silence: one short window of the nmap probes a silent service
            # may be waiting for (DNS, LDAP...). Nothing at all: a tarpit, stop here.
            # our own frame-only probes (Modbus) run beside nmap's, with a full read time
            own = asyncio.create_task(_frame_only_probes(ctx, tried))
            try:
                if await schedule(ctx, know, tried, window=silent_window(ctx)):
                    return
                if await own:
                    return
            finally:
                if not own.done():
                    own.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await own
                elif not own.cancelled():
                    # retrieved: after an early return what it raised (a connect timeout
                    # under load) is dropped, not logged as "never retrieved" at exit
                    own.exception()
            if know.probes_sent and not know.answered:
                raise TimeoutError("no response to any probe")
        if list(outcomes.values()).count(Outcome.SILENT) >= OWN_SILENCES:
            break  # the scheduler decides what else is worth a silence
        reply = ctx.result.responses.get("GetRequest", b"")
        late_greeting = classify_greeting(reply, ctx.ep.port) in tables().greeting_grabbers
        # It speaks first after all, just late or not to our first connection.
        if name == "http" and late_greeting and await _listen(ctx):
            return
        hint = hint_from_replies(ctx.result.responses)
        if hint and hint not in tried:
            order.insert(0, hint)
    learn(know, outcomes, ctx)
    if hung_up_on_everything(outcomes, ctx) and await _frame_only_probes(
            ctx, tried, tables().frame_only + tables().hang_up_only):
        return
    if await schedule(ctx, know, tried):
        return
    for name in protocols_in_replies(ctx.result.responses):
        # nmap's probes woke it, in a protocol nmap cannot name but we speak
        probe = tables().probes.get(name)
        if probe is not None and name not in tried:
            tried.add(name)
            if await probe(ctx) == Outcome.POSITIVE:
                return
    if not know.answered and Outcome.SILENT in outcomes.values():
        raise TimeoutError("no response to any probe")
    if ctx.result.responses:
        ctx.result.data = next(iter(ctx.result.responses.values()))
        return  # something answered, in no protocol we speak: a generic banner
    try:
        answered = await banner.poke(ctx)
    except ConnectionError as e:
        raise ProtocolError(f"the server closed every connection without sending data ({e})") from e
    if not answered:
        raise ProtocolError("the server closed every connection without sending data")
