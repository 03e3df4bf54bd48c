"""Which protocol is this? Listen first (server-speaks-first greetings), then probe
silent endpoints on fresh connections in port-hinted order; TLS found -> record it
and detect again inside. Each step hands over to one protocol grabber. What none of
them names goes to the scheduler (grab/engine/scheduler.py): nmap's probes, until one matches;
a match in a protocol we speak hands over to its grabber after all."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import ssl
from collections.abc import Awaitable, Callable

from ..protocols import (
    amqp,
    dns,
    epmd,
    ftp,
    http,
    http2,
    imap,
    ldap,
    memcached,
    modbus,
    mongodb,
    mqtt,
    mysql,
    nats,
    pop3,
    postgresql,
    rdp,
    redis,
    rtsp,
    s7,
    sip,
    smb,
    smtp,
    ssh,
    telnet,
    tls_probes,
    vnc,
    zookeeper,
)
from ..protocols.tls import record_tls
from . import banner
from . import scheduler as nmap_scheduler
from .conn import Conn
from .context import GrabContext, Outcome
from .errors import ProtocolError

# Port hints: which silent-protocol probe to try first.
PORT_HINTS: dict[int, str] = {
    **{
        p: "http"
        for p in (
            80,
            81,
            591,
            2080,
            3000,
            5000,
            5601,
            7001,
            8000,
            8008,
            8080,
            8081,
            8088,
            8888,
            9000,
            9090,
            9200,
            10000,
        )
    },
    **{p: "tls" for p in (443, 465, 636, 853, 993, 995, 2376, 3269, 4443, 5671, 6443, 8443, 8883)},
    9443: "tls",
    10443: "tls",
    6379: "redis",
    6380: "redis",
    5432: "postgresql",
    5433: "postgresql",
    11211: "memcached",
    1883: "mqtt",
    5672: "amqp",
    389: "ldap",
    3268: "ldap",
    2181: "zookeeper",
    53: "dns",
    502: "modbus",
    102: "s7",
    27017: "mongodb",
    27018: "mongodb",
    5353: "dns",
    445: "smb",
    139: "smb",
    3389: "rdp",
    5060: "sip",
    4369: "epmd",
    554: "rtsp",
    8554: "rtsp",
}
# Inside TLS on these ports, the silent protocol to try before HTTP.
TLS_INNER_HINTS = {636: "ldap", 3269: "ldap", 8883: "mqtt", 5671: "amqp", 853: "dns"}
# memcached before postgresql: postgres waits silently for an 8th byte of "stats\r\n",
# and memcached silently for a newline in an SSLRequest; this order costs one silence.
# zookeeper before postgresql: ZooKeeper waits silently for the 8-byte SSLRequest's body,
# while postgres refuses the 8-byte "srvr" probe at once. mqtt, amqp: brokers hang up on
# the earlier probes' bytes (a bad packet type, a wrong protocol header), so they cost a
# connection each, not a silence. slapd and DNS wait silently for a BER / length-prefix
# worth of bytes already at the TLS hello: only their port hint (389, 53) reaches them.
DEFAULT_ORDER = (
    "tls",
    "http",
    "redis",
    "memcached",
    "zookeeper",
    "postgresql",
    "mqtt",
    "amqp",
    "ldap",
    "dns",
)
# Our own probes stop after two silences (a tarpit, or a protocol that waits for more
# bytes than ours carry: slapd and DNS on an unusual port); then the scheduler decides,
# within its silent budget, with the nmap probes worth sending to a silent endpoint.
OWN_SILENCES = 2
TLS_HTTP_PORTS = {443, 4443, 8443, 9443, 10443}

_FTP_HINTS = (b"ftp", b"filezilla", b"serv-u", b"oops:")  # vsftpd fails with "500 OOPS:"
_SMTP_HINTS = (b"smtp", b"esmtp", b"postfix", b"exim", b"sendmail", b" mail")


def classify_greeting(greeting: bytes, port: int = 0) -> str | None:
    """Name the protocol from the first bytes a server sent (sans-IO)."""
    g = greeting
    if g.startswith(b"SSH-"):
        return "ssh"
    if mysql.is_handshake(g):
        return "mysql"
    if nats.is_info(g):
        return "nats"
    if g.startswith(b"RFB "):
        return "vnc"
    if g.startswith(b"+OK"):
        return "pop3"
    if g.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return "imap"
    if len(g) > 1 and g[0] == 0xFF and g[1] in (0xFB, 0xFC, 0xFD, 0xFE):
        return "telnet"
    if len(re.findall(rb"\xff[\xfb-\xfe][\x00-\x27]", g[:256])) >= 2:
        return "telnet"  # a text banner first, then option negotiation (one could be noise)
    m = re.match(rb"(\d{3})[ -]", g)
    if m and m.group(1) in (b"220", b"421", b"120", b"500", b"554"):
        low = g.lower()
        is_ftp = any(h in low for h in _FTP_HINTS)
        is_smtp = any(h in low for h in _SMTP_HINTS)
        if is_ftp != is_smtp:
            return "ftp" if is_ftp else "smtp"
        if port in (21, 2121):
            return "ftp"
        if port in (25, 465, 587, 2525):
            return "smtp"
    if port in (23, 2323) and g:
        return "telnet"  # a bare text banner (no negotiation) on telnet's ports
    return None


GreetingGrabber = Callable[[GrabContext, Conn], Awaitable[None]]
GREETING_GRABBERS: dict[str, GreetingGrabber] = {
    "ssh": ssh.grab,
    "ftp": ftp.grab,
    "smtp": smtp.grab,
    "mysql": mysql.grab,
    "pop3": pop3.grab,
    "imap": imap.grab,
    "vnc": vnc.grab,
    "telnet": telnet.grab,
    "nats": nats.grab,
}


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
    if first and b"\n" not in first and not mysql.is_handshake(first):
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
    grabber = GREETING_GRABBERS.get(proto or "")
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
    if alpn in ("h2", "http/1.1") or ctx.ep.port in TLS_HTTP_PORTS:
        await conn.close()
        await http.grab(ctx)
        return
    inner = TLS_INNER_HINTS.get(ctx.ep.port)
    if inner and alpn is None:
        await conn.close()
        if await PROBES[inner](ctx) == Outcome.POSITIVE:
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


_RTSP_SERVER = re.compile(rb"(?im)^server:[^\r\n]*\brtsp\b")


async def http_probe(ctx: GrabContext) -> str:
    outcome = await http.probe(ctx)
    if outcome == Outcome.POSITIVE:
        # an RTSP server that also answers HTTP (RTSP-over-HTTP tunnelling, GStreamer's
        # "503" with Server: GStreamer RTSP Server) is first of all an RTSP server
        reply = ctx.result.responses.get("GetRequest", b"")[:4096]
        if _RTSP_SERVER.search(reply) and await rtsp.probe(ctx) == Outcome.POSITIVE:
            return outcome
        await http.grab(ctx)
    return outcome


PROBES: dict[str, Callable[[GrabContext], Awaitable[str]]] = {
    "tls": tls_probe,
    "http": http_probe,
    "redis": redis.probe,
    "memcached": memcached.probe,
    "postgresql": postgresql.probe,
    "mqtt": mqtt.probe,
    "amqp": amqp.probe,
    "ldap": ldap.probe,
    "zookeeper": zookeeper.probe,
    "dns": dns.probe,
    "modbus": modbus.probe,
    "s7": s7.probe,
    "mongodb": mongodb.probe,
    "smb": smb.probe,
    "rdp": rdp.probe,
    "sip": sip.probe,
    "epmd": epmd.probe,
    "rtsp": rtsp.probe,
}


def hint_from_replies(responses: dict[str, bytes]) -> str | None:
    """Another probe's reply that gives a silent protocol away: an AMQP broker answers
    any junk (a TLS hello, a GET) with its own protocol header, an RTSP server a GET with
    an RTSP status line."""
    for reply in responses.values():
        if reply.startswith(b"AMQP"):
            return "amqp"
        if reply.startswith(b"RTSP/1."):  # an RTSP server answering our GET in its own
            return "rtsp"
    return None


# nmap service names for our protocols, where they differ; the rest are PROBES' keys.
NMAP_SERVICES = {"domain": "dns", "http-proxy": "http", "ssl": "tls", "netbios-ssn": "smb",
                 "microsoft-ds": "smb"}
# Our probe -> the nmap probe it stands for: met with silence, nmap's would be too.
SAME_AS_NMAP = {"http": "GetRequest", "dns": "DNSVersionBindReqTCP"}
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
    ours = NMAP_SERVICES.get(found.service, found.service)
    if ours in PROBES and ours not in (tried or set()) and not (
            ours in ("tls", "http") and ctx.tls):
        replies = {k: v for k, v in ctx.result.responses.items() if k not in before}
        outcome = Outcome.NEGATIVE
        with contextlib.suppress(TimeoutError, ConnectionError, ProtocolError, ssl.SSLError):
            outcome = await PROBES[ours](ctx)
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
    """What our own probes' outcomes tell the scheduler."""
    know.sent |= {SAME_AS_NMAP[n] for n in outcomes if n in SAME_AS_NMAP}
    know.silent_tls = outcomes.get("tls") == Outcome.SILENT
    know.silent_http = outcomes.get("http") == Outcome.SILENT
    know.answered = know.answered or Outcome.NEGATIVE in outcomes.values() or bool(
        ctx.result.responses)


# Protocols that answer only a well-formed frame of their own and either wait or hang up
# on anything else: tried beside the first silence's window of nmap probes, or, when
# every probe of ours was met by a hang-up and not one byte, before nmap's probes. So an
# odd port finds them without depending on how far nmap's schedule gets (its
# TerminalServer probe also draws an S7 PLC's COTP confirm, but under load it sometimes
# did not get there, and an S7 on port 1102 went unnamed). S7 before RDP: our RDP probe
# takes a PLC's bare COTP confirm for standard RDP security; our S7 probe says no to RDP.
FRAME_ONLY_PROBES = ("modbus", "s7")
# epmd never waits: it hangs up on anything but its own request (and nmap's epmd probe
# goes to port 4369 only), so it is asked only when everything was met by a hang-up.
HANG_UP_ONLY_PROBES = ("epmd",)


def hung_up_on_everything(outcomes: dict[str, str], ctx: GrabContext) -> bool:
    return not ctx.result.responses and all(
        o == Outcome.NEGATIVE for o in outcomes.values())


async def _frame_only_probes(ctx: GrabContext, tried: set[str],
                             names: tuple[str, ...] = FRAME_ONLY_PROBES) -> bool:
    for name in names:
        if name in tried:
            continue
        tried.add(name)
        with contextlib.suppress(TimeoutError, ConnectionError, ProtocolError, ssl.SSLError):
            if await PROBES[name](ctx) == Outcome.POSITIVE:
                return True
    return False


def silent_window(ctx: GrabContext) -> float:
    opts = ctx.opts
    return opts.silent_budget if opts.silent_budget is not None else opts.read_timeout / 2


def protocols_in_replies(responses: dict[str, bytes]) -> list[str]:
    """Our protocols that replies to nmap's probes suggest: a TPKT / COTP connection
    confirm (to TerminalServer*) is RDP when it carries an RDP negotiation response,
    otherwise more likely an S7 PLC (ISO-TSAP)."""
    out: list[str] = []
    hint = hint_from_replies(responses)
    if hint:
        out.append(hint)
    confirms = [r for r in responses.values()
                if r[:2] == b"\x03\x00" and len(r) >= 7 and r[5] == 0xD0]
    if any(len(r) >= 19 and r[11] in (0x02, 0x03) for r in confirms):
        out += ["rdp", "s7"]
    elif confirms:
        out += ["s7", "rdp"]
    return out


def probe_order(port: int) -> list[str]:
    hint = PORT_HINTS.get(port)
    order = [hint] if hint else []
    return order + [p for p in DEFAULT_ORDER if p != hint]


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
        outcome = outcomes[name] = await PROBES[name](ctx)
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
            if know.probes_sent and not know.answered:
                raise TimeoutError("no response to any probe")
        if list(outcomes.values()).count(Outcome.SILENT) >= OWN_SILENCES:
            break  # the scheduler decides what else is worth a silence
        reply = ctx.result.responses.get("GetRequest", b"")
        late_greeting = classify_greeting(reply, ctx.ep.port) in GREETING_GRABBERS
        # It speaks first after all, just late or not to our first connection.
        if name == "http" and late_greeting and await _listen(ctx):
            return
        hint = hint_from_replies(ctx.result.responses)
        if hint and hint not in tried:
            order.insert(0, hint)
    learn(know, outcomes, ctx)
    if hung_up_on_everything(outcomes, ctx) and await _frame_only_probes(
            ctx, tried, FRAME_ONLY_PROBES + HANG_UP_ONLY_PROBES):
        return
    if await schedule(ctx, know, tried):
        return
    for name in protocols_in_replies(ctx.result.responses):
        # nmap's probes woke it, in a protocol nmap cannot name but we speak
        if name in PROBES and name not in tried:
            tried.add(name)
            if await PROBES[name](ctx) == Outcome.POSITIVE:
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
