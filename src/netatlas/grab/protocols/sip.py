"""SIP grabber: one OPTIONS request (RFC 3261 11; what nmap's SIPOptions probe sends) and
the response's status line, Server / User-Agent, Allow, Supported and Accept headers.
The request builder and response parser are sans-IO and transport-neutral, so the UDP
side can send the same bytes in one datagram."""

from __future__ import annotations

import os
import re
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

MAX_RESPONSE = 16 * 1024
MAX_HEADERS = 64
# RFC 3261 7.3.3 compact forms of the headers we read or skip over
COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
           "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
           "v": "via"}
KEPT = ("server", "user-agent", "allow", "supported", "accept", "organization", "warning")
_STATUS = re.compile(rb"^SIP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?\r?\n")


def options_request(target: str, transport: str = "TCP", via_host: str = "netatlas.invalid",
                    via_port: int | None = None, tag: str | None = None,
                    call_id: str | None = None) -> bytes:
    """An OPTIONS request for ``target`` (an address or host name). ``via_host``/``via_port``
    are where replies go: over TCP the server answers on the connection whatever they
    say; over UDP the caller passes its own socket's address."""
    rand = os.urandom(6).hex()
    via = f"{via_host}:{via_port}" if via_port else via_host
    host = f"[{target}]" if ":" in target else target
    lines = [
        f"OPTIONS sip:{host} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via};branch=z9hG4bK{rand};rport",
        "Max-Forwards: 70",
        f"To: <sip:{host}>",
        f"From: <sip:netatlas@{via_host}>;tag={tag or rand}",
        f"Call-ID: {call_id or rand + '@netatlas'}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:netatlas@{via}>",
        "Accept: application/sdp",
        "User-Agent: netatlas",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response_complete(buf: bytes) -> bool:
    """The head is in, and the body its Content-Length announces (capped)."""
    if not buf.startswith(b"SIP/"[: len(buf)]):
        return True  # not SIP: stop reading
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d{1,7})", buf[:end], re.I)
    length = int(m.group(1)) if m else 0
    return len(buf) >= min(end + 4 + length, MAX_RESPONSE)


def _split_list(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()][:64]


def parse_response(buf: bytes) -> dict[str, Any]:
    """A SIP response -> {status, reason, version, server, user_agent, allow, ...}."""
    m = _STATUS.match(buf)
    if not m:
        raise ProtocolError(f"not a SIP response: {buf[:40]!r}")
    end = buf.find(b"\r\n\r\n")
    head = buf[m.end() : end if end >= 0 else len(buf)][:MAX_RESPONSE]
    out: dict[str, Any] = {
        "version": f"{m.group(1).decode()}.{m.group(2).decode()}",
        "status": int(m.group(3)),
        "reason": (m.group(4) or b"").decode("utf-8", "replace")[:200],
    }
    headers: dict[str, str] = {}
    for n, raw in enumerate(head.split(b"\n")):
        if n >= MAX_HEADERS:
            break
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        key = COMPACT.get(key, key)
        if key in KEPT:
            value = value.strip()[:500]
            # repeated headers combine (RFC 3261 7.3.1)
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    for key in ("server", "user-agent", "organization", "warning"):
        if key in headers:
            out[key.replace("-", "_")] = headers[key]
    for key in ("allow", "supported", "accept"):
        if key in headers:
            out[key] = _split_list(headers[key])
    if not end >= 0:
        out["truncated"] = True
    return out


async def probe(ctx: GrabContext) -> str:
    request = options_request(ctx.opts.host_header or ctx.ep.ip)
    reply = await exchange(ctx, request, response_complete, MAX_RESPONSE)
    if isinstance(reply, str):
        return reply
    try:
        section = parse_response(reply)
    except ProtocolError:
        return Outcome.NEGATIVE
    section["transport"] = "tls" if ctx.tls else "tcp"
    ctx.result.service = "sip"
    ctx.result.data = reply[: ctx.opts.max_bytes]
    ctx.result.responses["SIPOptions"] = reply[: ctx.opts.max_bytes]
    ctx.result.sections["sip"] = section
    return Outcome.POSITIVE


async def probe_udp(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    """The same OPTIONS in one datagram (most SIP runs over UDP); the Via names our
    socket, so a server that answers to the Via rather than the source still reaches us."""
    async with Datagram(ip, port) as d:
        local_ip, local_port = d.sock.getsockname()[:2]
        call_id = os.urandom(6).hex() + "@netatlas"
        request = options_request(ip, "UDP", local_ip, local_port, call_id=call_id)

        def ours(reply: bytes) -> bool:
            return reply.startswith(b"SIP/2.0 ") and call_id.encode() in reply

        reply = await d.request(request, opts.read_timeout, MAX_RESPONSE, ours)
    if reply is None:
        return Outcome.SILENT
    try:
        section = parse_response(reply)
    except ProtocolError:
        return Outcome.NEGATIVE
    section["transport"] = "udp"
    result.service = "sip"
    result.data = reply[: opts.max_bytes]
    result.responses["SIPOptions"] = reply[: opts.max_bytes]
    result.sections["sip"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="sip", ports=(5060,), probe=probe,
                    udp_ports=(5060,), udp_probe=probe_udp,
                    # replies go back to the source address (rport), as servers do
                    udp_payloads=lambda rid: (options_request("netatlas.invalid", "UDP"),))
