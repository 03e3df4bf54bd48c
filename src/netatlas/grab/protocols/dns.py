"""DNS grabber, TCP and UDP: one CHAOS-class TXT query for ``version.bind``, the name
BIND, dnsmasq, Unbound, Knot and PowerDNS answer with their software and version
(``probe`` over TCP, ``probe_udp`` as one datagram)."""

from __future__ import annotations

import os
import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

TYPE_TXT, CLASS_CH = 16, 3
MAX_MSG = 4096  # a version.bind answer is tiny; bigger is not what we asked for
MAX_RECORDS = 16
MAX_POINTERS = 16
RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
}


def encode_name(name: str) -> bytes:
    out = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return out + b"\x00"


def message(name: str = "version.bind", qid: int | None = None) -> bytes:
    """A CHAOS TXT query as sent over UDP (no length prefix), no recursion desired."""
    qid = int.from_bytes(os.urandom(2), "big") if qid is None else qid
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    return msg + encode_name(name) + struct.pack(">HH", TYPE_TXT, CLASS_CH)


def query(name: str = "version.bind", qid: int | None = None) -> bytes:
    """A TCP DNS message (2-byte length prefix), no recursion desired."""
    msg = message(name, qid)
    return struct.pack(">H", len(msg)) + msg


def tcp_complete(buf: bytes) -> bool:
    return len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]


def _skip_name(msg: bytes, pos: int) -> int:
    """Position after a (possibly compressed) name; bounded."""
    for _ in range(128):
        if pos >= len(msg):
            raise ProtocolError("DNS name runs past the message")
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            if pos + 2 > len(msg):
                raise ProtocolError("truncated DNS name pointer")
            return pos + 2
        if n & 0xC0:
            raise ProtocolError("bad DNS label type")
        pos += 1 + n
    raise ProtocolError("DNS name has too many labels")


def _read_name(msg: bytes, pos: int) -> str:
    labels: list[str] = []
    for _ in range(MAX_POINTERS + 128):
        if pos >= len(msg):
            raise ProtocolError("DNS name runs past the message")
        n = msg[pos]
        if n == 0:
            return ".".join(labels)
        if n & 0xC0 == 0xC0:
            if pos + 2 > len(msg):
                raise ProtocolError("truncated DNS name pointer")
            pos = struct.unpack(">H", msg[pos : pos + 2])[0] & 0x3FFF
            continue
        if n & 0xC0:
            raise ProtocolError("bad DNS label type")
        labels.append(msg[pos + 1 : pos + 1 + n].decode("ascii", errors="replace"))
        pos += 1 + n
    raise ProtocolError("DNS name pointer loop")


def parse_response(msg: bytes, qid: int | None = None) -> dict[str, Any]:
    """A DNS response (without the TCP length prefix) -> header facts and TXT answers."""
    if len(msg) < 12:
        raise ProtocolError("DNS message shorter than its header")
    rid, flags, qd, an, _ns, _ar = struct.unpack(">HHHHHH", msg[:12])
    if not flags & 0x8000:
        raise ProtocolError("not a DNS response (QR bit clear)")
    if qid is not None and rid != qid:
        raise ProtocolError("DNS response id does not match the query")
    rcode = flags & 0xF
    out: dict[str, Any] = {
        "rcode": rcode,
        "rcode_name": RCODES.get(rcode, str(rcode)),
        "authoritative": bool(flags & 0x0400),
        "recursion_available": bool(flags & 0x0080),
        "answers": an,
    }
    pos = 12
    for _ in range(min(qd, MAX_RECORDS)):
        pos = _skip_name(msg, pos) + 4
    txts: list[str] = []
    for _ in range(min(an, MAX_RECORDS)):
        name = _read_name(msg, pos)
        pos = _skip_name(msg, pos)
        if pos + 10 > len(msg):
            raise ProtocolError("truncated DNS resource record")
        rtype, _rclass, _ttl, rdlen = struct.unpack(">HHIH", msg[pos : pos + 10])
        pos += 10
        rdata = msg[pos : pos + rdlen]
        if len(rdata) < rdlen:
            raise ProtocolError("DNS rdata runs past the message")
        pos += rdlen
        if rtype == TYPE_TXT and name.lower() == "version.bind":
            i, parts = 0, []
            while i < len(rdata):
                n = rdata[i]
                parts.append(rdata[i + 1 : i + 1 + n].decode("utf-8", errors="replace"))
                i += 1 + n
            txts.append("".join(parts)[:255])
    if txts:
        out["version_bind"] = txts[0]
    return out


async def probe(ctx: GrabContext) -> str:
    qid = int.from_bytes(os.urandom(2), "big")
    reply = await exchange(ctx, query(qid=qid), tcp_complete, 2 + MAX_MSG)
    if isinstance(reply, str):
        return reply
    if not tcp_complete(reply):
        return Outcome.NEGATIVE
    n = struct.unpack(">H", reply[:2])[0]
    try:
        section = parse_response(reply[2 : 2 + n], qid)
    except ProtocolError:
        return Outcome.NEGATIVE
    ctx.result.service = "domain"
    ctx.result.data = reply
    ctx.result.responses["DNSVersionBindReqTCP"] = reply
    ctx.result.sections["dns"] = section
    return Outcome.POSITIVE


# -- over UDP: the same query and parser, sent as one datagram


async def probe_udp(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    qid = int.from_bytes(os.urandom(2), "big")

    def ours(reply: bytes) -> bool:
        try:
            parse_response(reply, qid)
        except ProtocolError:
            return False
        return True

    async with Datagram(ip, port) as d:
        reply = await d.request(message(qid=qid), opts.read_timeout, MAX_MSG, ours)
    if reply is None:
        return Outcome.SILENT
    result.service = "domain"
    result.data = reply
    result.responses["DNSVersionBindReq"] = reply
    result.sections["dns"] = parse_response(reply, qid)
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="dns", ports=(53, 5353), tls_ports=(853,), probe=probe,
                    unhinted="in-order", nmap_names=("domain",),
                    nmap_probe="DNSVersionBindReqTCP",
                    udp_ports=(53, 5353), udp_probe=probe_udp,
                    udp_payloads=lambda rid: (message(qid=rid & 0xFFFF),),
                    udp_generic=lambda rid: message(qid=rid & 0xFFFF))
