"""The protocol registry (grab/engine/registry.py, grab/protocols/__init__.py): every
protocol module declares itself, the tables detect, udp and discover kept before the
registry are now derived from the declarations (and equal what they were), and a
protocol registered at runtime is detected with no edit anywhere else."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import subprocess
import sys
from typing import Any

import pytest

import netatlas.grab.protocols as protocols_package
from netatlas.discover import Payloads
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine import detect, udp
from netatlas.grab.engine.conn import Conn
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.dgram import Datagram
from netatlas.grab.engine.exchange import exchange
from netatlas.grab.engine.registry import Greeting, Protocol, Registry
from netatlas.grab.protocols import registry
from netatlas.model import Endpoint

from .conftest import serve
from .udpserver import HOST as UDP_HOST
from .udpserver import udp_server

# What detect.py and udp.py kept in their own tables before the registry, verbatim.
OLD_PORT_HINTS = {
    53: "dns", 80: "http", 81: "http", 102: "s7", 139: "smb", 389: "ldap", 443: "tls",
    445: "smb", 465: "tls", 502: "modbus", 554: "rtsp", 591: "http", 636: "tls", 853: "tls",
    993: "tls", 995: "tls", 1883: "mqtt", 2080: "http", 2181: "zookeeper", 2376: "tls",
    3000: "http", 3268: "ldap", 3269: "tls", 3389: "rdp", 4369: "epmd", 4443: "tls",
    5000: "http", 5060: "sip", 5353: "dns", 5432: "postgresql", 5433: "postgresql",
    5601: "http", 5671: "tls", 5672: "amqp", 6379: "redis", 6380: "redis", 6443: "tls",
    7001: "http", 8000: "http", 8008: "http", 8080: "http", 8081: "http", 8088: "http",
    8443: "tls", 8554: "rtsp", 8883: "tls", 8888: "http", 9000: "http", 9090: "http",
    9200: "http", 9443: "tls", 10000: "http", 10443: "tls", 11211: "memcached",
    27017: "mongodb", 27018: "mongodb",
}
OLD_TLS_INNER_HINTS = {636: "ldap", 3269: "ldap", 8883: "mqtt", 5671: "amqp", 853: "dns"}
OLD_TLS_HTTP_PORTS = {443, 4443, 8443, 9443, 10443}
OLD_DEFAULT_ORDER = ("tls", "http", "redis", "memcached", "zookeeper", "postgresql", "mqtt",
                     "amqp", "ldap", "dns")
OLD_GREETING_GRABBERS = {"ssh", "ftp", "smtp", "mysql", "pop3", "imap", "vnc", "telnet", "nats"}
OLD_PROBES = {"tls", "http", "redis", "memcached", "postgresql", "mqtt", "amqp", "ldap",
              "zookeeper", "dns", "modbus", "s7", "mongodb", "smb", "rdp", "sip", "epmd",
              "rtsp"}
OLD_NMAP_SERVICES = {"domain": "dns", "http-proxy": "http", "ssl": "tls", "netbios-ssn": "smb",
                     "microsoft-ds": "smb"}
OLD_SAME_AS_NMAP = {"http": "GetRequest", "dns": "DNSVersionBindReqTCP"}
OLD_FRAME_ONLY, OLD_HANG_UP_ONLY = ("modbus", "s7"), ("epmd",)
OLD_UDP_PROBES = ["snmp", "ntp", "dns", "bacnet", "sip"]  # in the order they were asked
OLD_UDP_USUAL = {53: "dns", 5353: "dns", 123: "ntp", 161: "snmp", 47808: "bacnet",
                 5060: "sip"}
# discover's own payloads per port (how many), and its generic set (SNMPv3, NTP, DNS)
OLD_OWN_PAYLOADS = {53: 1, 123: 1, 161: 2, 5060: 1, 5353: 1, 47808: 2}

# Protocols registered since (issue 14), one entry each: what it adds to the derived
# tables. "ports": TCP port hints; "probe": a TCP probe; "unhinted": how detect tries
# it elsewhere; "udp_ports": UDP usual ports; "payloads": discovery payloads per port;
# "greeting": a greeting test and grabber; "nmap_names": nmap's service names for it.
ADDED: dict[str, dict[str, Any]] = {
    "kafka": {"ports": {9092}, "probe": True, "unhinted": "in-order"},
    "cassandra": {"ports": {9042}, "probe": True},
    "onvif": {"udp_ports": {3702}, "payloads": {3702: 1}},
    "rsync": {"greeting": True},
    "portmap": {"ports": {111}, "probe": True, "udp_ports": {111}, "payloads": {111: 1},
                "nmap_names": {"rpcbind"}},
    "x11": {"ports": set(range(6000, 6064)), "probe": True, "unhinted": "hang-up-only",
            "nmap_names": {"X11"}},
    "spark": {"ports": {7077}, "probe": True},  # on the master's port only
}


def _added(key: str) -> dict[str, Any]:
    return {name: spec[key] for name, spec in ADDED.items() if key in spec}


def _in_order(names: list[str] | tuple[str, ...], old: list[str] | tuple[str, ...],
              unhinted: str | None = None) -> None:
    """The old names keep their order; the added ones (of that kind) are all there."""
    assert [n for n in names if n in old] == list(old)
    added = {n for n, how in _added("unhinted").items() if how == unhinted} \
        if unhinted else set(_added("udp_ports"))
    assert set(names) - set(old) == added

# Greetings, what the old classify_greeting named each on port 0, and on the ports
# where that differs (a bare reply code goes by the port); captured before the registry.
FTP = {21: 'ftp', 2121: 'ftp'}
SMTP = {25: 'smtp', 465: 'smtp', 587: 'smtp', 2525: 'smtp'}
TELNET = {23: 'telnet', 2323: 'telnet'}
GREETINGS: list[tuple[bytes, str | None, dict[int, str]]] = [
    (b'SSH-2.0-OpenSSH_9.2p1\r\n', 'ssh', {}),
    (b'SSH-1.99-x\r\n', 'ssh', {}),
    (b'J\x00\x00\x00\n8.0.36\x00', 'mysql', {}),
    (b'J\x00\x00\x00\n5.5.5-10.11.6-MariaDB\x00abc', 'mysql', {}),
    (b'\x17\x00\x00\x00\xffj\x04Host is not allowed', 'mysql', {}),
    (b'INFO {"server_id":"x"}\r\n', 'nats', {}),
    (b'RFB 003.008\n', 'vnc', {}),
    (b'+OK POP3 ready\r\n', 'pop3', {}),
    (b'* OK IMAP4rev1\r\n', 'imap', {}),
    (b'* PREAUTH x\r\n', 'imap', {}),
    (b'* BYE busy\r\n', 'imap', {}),
    (b'\xff\xfd\x18', 'telnet', {}),
    (b'\xff\xfb\x01', 'telnet', {}),
    (b'\r\nWelcome\r\n\xff\xfb\x01\xff\xfb\x03login: ', 'telnet', {}),
    (b'\x00\xc3( hello \xff\xfe\x00 world\r\n', None, {**TELNET}),
    (b'220 ftp ready\r\n', 'ftp', {}),
    (b'220 ProFTPD Server\r\n', 'ftp', {}),
    (b'220 mail.example ESMTP Postfix\r\n', 'smtp', {}),
    (b'220 welcome\r\n', None, {**FTP, **SMTP, **TELNET}),
    (b'421 too many\r\n', None, {**FTP, **SMTP, **TELNET}),
    (b'500 OOPS: vsftpd\r\n', 'ftp', {}),
    (b'554 no\r\n', None, {**FTP, **SMTP, **TELNET}),
    (b'220-FileZilla\r\n220 ok\r\n', 'ftp', {}),
    (b'220 smtp ftp both\r\n', None, {**FTP, **SMTP, **TELNET}),
    (b'120 wait\r\n', None, {**FTP, **SMTP, **TELNET}),
    (b'230 logged\r\n', None, {**TELNET}),
    (b'hello there\r\n', None, {**TELNET}),
    (b'', None, {}),
    (b'\x00\x01\x02', None, {**TELNET}),
    (b'login: ', None, {**TELNET}),
    (b'220 ftp ready\r\n\xff\xfb\x01\xff\xfb\x03', 'telnet', {}),
]
PORTS = [0, 21, 2121, 25, 465, 587, 2525, 23, 2323, 80, 3306]


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(protocols_package.__path__))


def test_every_protocol_module_is_registered() -> None:
    """A module of protocols/ declares a PROTOCOL named after itself, which the registry
    holds, or says which registered protocol it is a part of."""
    declared = []
    for name in _modules():
        module = importlib.import_module(f"netatlas.grab.protocols.{name}")
        proto = getattr(module, "PROTOCOL", None)
        if proto is None:
            assert getattr(module, "PART_OF", None) in registry, (
                f"protocols/{name}.py declares neither PROTOCOL nor PART_OF")
            continue
        assert isinstance(proto, Protocol)
        assert proto.name == name
        assert registry[name] is proto
        declared.append(name)
    assert sorted(registry.names()) == declared


def test_names_are_unique() -> None:
    names = registry.names()
    assert len(names) == len(set(names)) == 30 + len(ADDED)
    again = Registry([Protocol(name="x")])
    with pytest.raises(ValueError, match="already registered"):
        again.register(Protocol(name="x"))


def test_declarations_are_consistent() -> None:
    hinted: dict[int, str] = {}
    for p in registry:
        if p.probe is None and p.name not in ("tls", "http"):  # the engine's own layers
            assert p.unhinted is None and not p.tls_ports and not p.behind_http, p.name
            assert p.greeting is not None or p.udp_probe is not None, p.name
        if p.greeting is None and p.ports and p.name in detect.tables().probes:
            for port in p.ports:  # two probes never claim one port
                assert hinted.setdefault(port, p.name) == p.name, (port, p.name)
    with pytest.raises(ValueError):
        Protocol(name="x", greeting=lambda g, port: Greeting.NO)  # without a grabber
    with pytest.raises(ValueError):
        Protocol(name="x", udp_ports=(9,))  # without a UDP probe


def test_derived_tables_equal_the_old_ones() -> None:
    t = detect.tables()
    added_hints = {port: name for name, ports in _added("ports").items() for port in ports}
    assert t.port_hints == OLD_PORT_HINTS | added_hints
    assert {p: n for p, n in t.tls_inner.items() if n != "http"} == OLD_TLS_INNER_HINTS
    assert {p for p, n in t.tls_inner.items() if n == "http"} == OLD_TLS_HTTP_PORTS
    _in_order(t.default_order, OLD_DEFAULT_ORDER, "in-order")
    assert set(t.greeting_grabbers) == OLD_GREETING_GRABBERS | set(_added("greeting"))
    assert set(t.probes) == OLD_PROBES | set(_added("probe"))
    assert t.nmap_services == OLD_NMAP_SERVICES | {
        alias: name for name, aliases in _added("nmap_names").items() for alias in aliases}
    assert t.same_as_nmap == OLD_SAME_AS_NMAP
    _in_order(t.frame_only, OLD_FRAME_ONLY, "frame-only")
    _in_order(t.hang_up_only, OLD_HANG_UP_ONLY, "hang-up-only")
    _in_order(list(udp.probes()), OLD_UDP_PROBES)
    added_udp = {port: name for name, ports in _added("udp_ports").items() for port in ports}
    assert udp.usual() == OLD_UDP_USUAL | added_udp
    payloads = Payloads(nmap_file=None)
    added_payloads = {port: n for by_port in _added("payloads").values()
                      for port, n in by_port.items()}
    assert {port: len(v) for port, v in payloads.own.items()} == \
        OLD_OWN_PAYLOADS | added_payloads
    _v2c, v3 = payloads.own[161]
    (dns_q,) = payloads.own[53]
    assert payloads.own[5353] == (dns_q,)
    assert len(payloads.generic) == 3
    assert payloads.generic[0] == v3 and payloads.generic[2] == dns_q
    assert payloads.for_port(40000)[-3:] == payloads.generic


@pytest.mark.parametrize(("greeting", "named", "on_ports"), GREETINGS)
def test_greetings_named_as_before(greeting: bytes, named: str | None,
                                   on_ports: dict[int, str]) -> None:
    for port in PORTS:
        assert detect.classify_greeting(greeting, port) == on_ports.get(port, named), port


def test_replies_suggest_as_before() -> None:
    assert detect.hint_from_replies({"TLSSessionReq": b"AMQP\x00\x00\x09\x01"}) == "amqp"
    assert detect.hint_from_replies({"GetRequest": b"RTSP/1.0 400 Bad Request\r\n"}) == "rtsp"
    assert detect.hint_from_replies({"GetRequest": b"HTTP/1.1 200 OK\r\n"}) is None
    cc = b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x00\x00\x00"
    cc_rdp = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x08\x00\x00\x00"
    assert detect.protocols_in_replies({"TerminalServer": cc}) == ["s7", "rdp"]
    assert detect.protocols_in_replies({"TerminalServerCookie": cc_rdp}) == ["rdp", "s7"]
    assert detect.protocols_in_replies({"X": b"AMQP\x00\x00\x09\x01", "T": cc}) == [
        "amqp", "s7", "rdp"]


# -- a protocol added at runtime: registered, it is detected; nothing else is edited

HELLO = b"HELLO-NETATLAS-TEST 1.0\r\n"


def _hello_greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if first.startswith(b"HELLO-NETATLAS-TEST ") else Greeting.NO


async def _hello_grab(ctx: GrabContext, conn: Conn) -> None:
    line = await conn.read_until_done(lambda b: b"\n" in b, 1024, ctx.opts.read_timeout)
    ctx.result.service = "hellotest"
    ctx.result.sections["hellotest"] = {"version": line.split()[1].decode()}


async def _ping_probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, b"PING\r\n", lambda b: b"\n" in b, 64)
    if isinstance(reply, str):
        return reply  # silent, or the connection failed
    if not reply.startswith(b"PONG"):
        return Outcome.NEGATIVE
    ctx.result.service = "pingtest"
    ctx.result.data = reply
    return Outcome.POSITIVE


async def test_a_greeting_protocol_registered_at_runtime_is_detected(
        fast: GrabOptions) -> None:
    async def server(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(HELLO)
        await w.drain()
        await r.read(1)

    proto = Protocol(name="hellotest", greeting=_hello_greeting, grab=_hello_grab)
    async with serve(server) as port:
        ep = Endpoint("127.20.250.1", port)
        with registry.registered(proto):
            assert detect.classify_greeting(HELLO) == "hellotest"
            res = await grab_endpoint(ep, fast)
        assert res.status == "success", res.error
        assert res.service == "hellotest"
        assert res.sections["hellotest"] == {"version": "1.0"}
        assert "hellotest" not in registry
        assert detect.classify_greeting(HELLO) is None
        assert (await grab_endpoint(ep, fast)).service != "hellotest"


async def test_a_probe_protocol_registered_at_runtime_is_detected(fast: GrabOptions) -> None:
    async def server(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while line := await r.readline():  # silent until asked, in its own words only
            if line != b"PING\r\n":
                return
            w.write(b"PONG\r\n")
            await w.drain()

    async with serve(server) as port:
        proto = Protocol(name="pingtest", ports=(port,), probe=_ping_probe)
        with registry.registered(proto):
            assert detect.probe_order(port)[0] == "pingtest"
            res = await grab_endpoint(Endpoint("127.20.250.1", port), fast)
        assert res.service == "pingtest" and res.data == b"PONG\r\n"
        assert detect.probe_order(port)[0] != "pingtest"


async def test_a_udp_protocol_registered_at_runtime_is_asked(fast: GrabOptions) -> None:
    async def ping_udp(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
        async with Datagram(ip, port) as d:
            reply = await d.request(b"PING", opts.read_timeout, 64, lambda b: b == b"PONG")
        if reply is None:
            return Outcome.SILENT
        result.service, result.data = "udptest", reply
        return Outcome.POSITIVE

    def answer(data: bytes) -> list[bytes]:
        return [b"PONG"] if data == b"PING" else []

    async with udp_server(answer) as (port, _):
        proto = Protocol(name="udptest", udp_ports=(port,), udp_probe=ping_udp,
                         udp_payloads=lambda rid: (b"PING",))
        with registry.registered(proto):
            assert udp.usual()[port] == "udptest"
            assert Payloads(nmap_file=None).for_port(port) == (b"PING",)
            res = await grab_endpoint(Endpoint(UDP_HOST, port, "udp"), fast)
        assert res.service == "udptest" and res.data == b"PONG"
        assert port not in udp.usual()


def test_grab_imports_nothing_of_discover() -> None:
    """discover takes its UDP payloads from the registry, and grab needs nothing of
    discover (the token bucket is ``netatlas.ratelimit``): no grab <-> discover cycle."""
    code = ("import sys, netatlas.grab, netatlas.grab.protocols; "
            "print([m for m in sys.modules if m.startswith('netatlas.discover')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"
