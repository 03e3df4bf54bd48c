"""MQTT grabber: one CONNECT with no credentials (MQTT 3.1.1) and the CONNACK's verdict:
whether the broker lets anonymous clients in. If it does, one read-only subscription
to ``$SYS/broker/version`` (what nmap's mqtt-subscribe reads) names the broker; then
DISCONNECT. We never publish."""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

RETURN_CODES = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
DISCONNECT = b"\xe0\x00"
VERSION_TOPIC = b"$SYS/broker/version"


def _utf8(s: bytes) -> bytes:
    return len(s).to_bytes(2, "big") + s


def connect_packet(client_id: bytes | None = None) -> bytes:
    """CONNECT, protocol level 4, clean session, keep-alive 30 s, no will/user/password."""
    cid = client_id or b"netatlas-" + os.urandom(4).hex().encode()
    body = _utf8(b"MQTT") + b"\x04\x02\x00\x1e" + _utf8(cid)
    return b"\x10" + bytes([len(body)]) + body  # < 128 bytes: one length byte


def connack_complete(buf: bytes) -> bool:
    return len(buf) >= 4 or (bool(buf) and buf[0] != 0x20)


def parse_connack(buf: bytes) -> dict[str, Any]:
    """CONNACK (3.1.1: ``20 02 flags rc``; MQTT 5 brokers may add properties)."""
    if len(buf) < 4 or buf[0] != 0x20:
        raise ProtocolError(f"not an MQTT CONNACK: {buf[:8].hex()}")
    if buf[1] < 2 or buf[1] & 0x80:
        raise ProtocolError(f"bad CONNACK length {buf[1]}")
    flags, rc = buf[2], buf[3]
    if flags & 0xFE:
        raise ProtocolError(f"bad CONNACK flags {flags:#x}")
    return {
        "protocol_level": 4,
        "return_code": rc,
        "return_text": RETURN_CODES.get(rc, f"unknown ({rc})"),
        "anonymous": rc == 0,
        "session_present": bool(flags & 1),
    }


def remaining_length(buf: bytes, pos: int = 1) -> tuple[int, int] | None:
    """MQTT's variable-length integer at ``pos`` -> (value, bytes used); None if it is
    still incomplete. More than 4 bytes is a protocol error."""
    value = 0
    for i in range(4):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, i + 1
    raise ProtocolError("MQTT remaining length longer than 4 bytes")


def split_packets(buf: bytes) -> tuple[list[bytes], bytes]:
    """Whole MQTT control packets at the start of ``buf`` and the incomplete rest."""
    out: list[bytes] = []
    pos = 0
    while pos < len(buf) and len(out) < 64:
        rl = remaining_length(buf, pos + 1)
        if rl is None:
            break
        n, used = rl
        end = pos + 1 + used + n
        if end > len(buf):
            break
        out.append(buf[pos:end])
        pos = end
    return out, buf[pos:]


def subscribe_packet(topic: bytes = VERSION_TOPIC, packet_id: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + _utf8(topic) + b"\x00"  # QoS 0
    return b"\x82" + bytes([len(body)]) + body


def parse_publish(pkt: bytes) -> tuple[str, bytes]:
    """PUBLISH -> (topic, payload)."""
    if not pkt or pkt[0] >> 4 != 3:
        raise ProtocolError("not an MQTT PUBLISH")
    rl = remaining_length(pkt)
    if rl is None:
        raise ProtocolError("truncated MQTT PUBLISH")
    body = pkt[1 + rl[1] :]
    if len(body) < 2:
        raise ProtocolError("truncated MQTT PUBLISH topic")
    tlen = int.from_bytes(body[:2], "big")
    if 2 + tlen > len(body):
        raise ProtocolError("MQTT topic runs past the packet")
    topic = body[2 : 2 + tlen].decode("utf-8", errors="replace")
    skip = 2 + tlen + (2 if (pkt[0] >> 1) & 3 else 0)  # packet id when QoS > 0
    return topic, body[skip:]


def version_complete(buf: bytes) -> bool:
    try:
        pkts, _ = split_packets(buf)
    except ProtocolError:
        return True
    return any(p[0] >> 4 == 3 for p in pkts)


async def _broker_version(conn: Conn, t: float) -> str | None:
    """Read the retained $SYS/broker/version (Mosquitto publishes it to subscribers)."""
    await conn.write(subscribe_packet(), t)
    buf = await conn.read_until_done(version_complete, 4096, t)
    for pkt in split_packets(buf)[0]:
        if pkt[0] >> 4 == 3:
            topic, payload = parse_publish(pkt)
            if topic == VERSION_TOPIC.decode():
                return payload[:200].decode("utf-8", errors="replace")
    return None


async def probe(ctx: GrabContext) -> str:
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    t = ctx.opts.read_timeout
    try:
        try:
            await conn.write(connect_packet(), t)
            reply = await conn.read_until_done(connack_complete, 64, t)
        except TimeoutError:
            return Outcome.SILENT
        except (ConnectionError, ssl.SSLError, OSError):
            return Outcome.NEGATIVE
        try:
            section = parse_connack(reply[:4])
        except ProtocolError:
            return Outcome.NEGATIVE
        ctx.result.service = "mqtt"
        ctx.result.data = reply
        ctx.result.responses["mqtt-CONNECT"] = reply
        ctx.result.sections["mqtt"] = section
        if section["anonymous"]:
            # One read-only subscription, to the topic that names the broker.
            with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, ProtocolError):
                version = await _broker_version(conn, min(t, 1.5))
                if version:
                    section["broker_version"] = version
            with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
                await conn.write(DISCONNECT, 0.5)
        return Outcome.POSITIVE
    finally:
        await conn.close()


PROTOCOL = Protocol(name="mqtt", ports=(1883,), tls_ports=(8883,), probe=probe,
                    unhinted="in-order")
