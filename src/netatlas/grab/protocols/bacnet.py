"""BACnet/IP grabber (UDP 47808): ReadProperty of the device object, the read-only
requests nmap's bacnet-info sends. The device instance is the wildcard 4194303, which a
device answers for itself, so nothing needs discovering first (no Who-Is broadcast).

Sans-IO codec (BVLC + NPDU + APDU, application-tagged values) plus one small probe in
the UDP grabbers' shape: ``probe(ip, port, opts, result)``."""

from __future__ import annotations

import contextlib
import os
import struct
from typing import Any

from ..engine.context import Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

BVLC_UNICAST_NPDU = 0x0A
READ_PROPERTY = 0x0C
DEVICE, WILDCARD_INSTANCE = 8, 4194303
MAX_MSG = 1500
MAX_TEXT = 128
# property id -> section field, in the order they are asked
PROPERTIES = {
    121: "vendor_name",
    120: "vendor_id",
    70: "model_name",
    44: "firmware_revision",
    12: "application_software_version",
    77: "object_name",
    28: "description",
    58: "location",
}
ERROR_CLASSES = {0: "device", 1: "object", 2: "property", 3: "resources", 4: "security",
                 5: "services", 7: "communication"}
_PDU_NAMES = {5: "error", 6: "reject", 7: "abort"}


def read_property(prop: int, invoke_id: int, instance: int = WILDCARD_INSTANCE) -> bytes:
    """BVLC original-unicast + NPDU (expecting reply) + confirmed ReadProperty."""
    oid = (DEVICE << 22) | instance
    prop_tag = b"\x19" + bytes([prop]) if prop < 256 else b"\x1a" + prop.to_bytes(2, "big")
    apdu = bytes([0x00, 0x05, invoke_id & 0xFF, READ_PROPERTY]) + b"\x0c" + struct.pack(
        ">I", oid) + prop_tag
    npdu = b"\x01\x04" + apdu
    return bytes([0x81, BVLC_UNICAST_NPDU]) + (len(npdu) + 4).to_bytes(2, "big") + npdu


def _apdu(buf: bytes) -> bytes:
    """Strip BVLC and NPDU; a network-layer message (no APDU) raises."""
    if len(buf) < 6 or buf[0] != 0x81 or buf[1] not in (0x0A, 0x0B, 0x04):
        raise ProtocolError(f"not BACnet/IP: {buf[:4].hex()}")
    if int.from_bytes(buf[2:4], "big") != len(buf):
        raise ProtocolError("BVLC length does not match the datagram")
    pos = 4 + (6 if buf[1] == 0x04 else 0)  # forwarded NPDU carries the original source
    if pos + 2 > len(buf) or buf[pos] != 0x01:
        raise ProtocolError("bad NPDU version")
    control = buf[pos + 1]
    pos += 2
    if control & 0x80:
        raise ProtocolError("a network-layer message, not an APDU")
    if control & 0x20:  # destination network, length, address
        if pos + 3 > len(buf):
            raise ProtocolError("truncated NPDU destination")
        pos += 3 + buf[pos + 2]
    if control & 0x08:  # source network, length, address
        if pos + 3 > len(buf):
            raise ProtocolError("truncated NPDU source")
        pos += 3 + buf[pos + 2]
    if control & 0x20:
        pos += 1  # hop count
    if pos >= len(buf):
        raise ProtocolError("NPDU without an APDU")
    return buf[pos:]


def _tag(buf: bytes, pos: int) -> tuple[int, bool, int, int, int]:
    """-> (tag number, context?, length-or-value/type, header length, kind) where kind
    is 0 data, 6 opening, 7 closing."""
    if pos >= len(buf):
        raise ProtocolError("truncated BACnet tag")
    b = buf[pos]
    number, context, lvt = b >> 4, bool(b & 0x08), b & 0x07
    n = 1
    if number == 0x0F:
        if pos + 1 >= len(buf):
            raise ProtocolError("truncated extended tag number")
        number, n = buf[pos + 1], 2
    if context and lvt in (6, 7):
        return number, context, 0, n, lvt
    if lvt == 5:
        if pos + n >= len(buf):
            raise ProtocolError("truncated extended length")
        ext = buf[pos + n]
        n += 1
        if ext == 254:
            lvt, n = int.from_bytes(buf[pos + n : pos + n + 2], "big"), n + 2
        elif ext == 255:
            lvt, n = int.from_bytes(buf[pos + n : pos + n + 4], "big"), n + 4
        else:
            lvt = ext
    return number, context, lvt, n, 0


def _unsigned(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big")


def decode_value(buf: bytes, pos: int) -> tuple[Any, int]:
    """One application-tagged value -> (python value, next position)."""
    number, context, lvt, n, kind = _tag(buf, pos)
    if context or kind:
        raise ProtocolError("expected an application-tagged value")
    if number == 1:  # boolean: the value is in the tag
        return bool(lvt), pos + n
    start, end = pos + n, pos + n + lvt
    if end > len(buf):
        raise ProtocolError("BACnet value runs past the reply")
    raw = buf[start:end]
    if number == 0:
        return None, end
    if number in (2, 9):  # unsigned, enumerated
        return _unsigned(raw), end
    if number == 3:
        return int.from_bytes(raw[:8], "big", signed=True), end
    if number == 4 and lvt == 4:
        return struct.unpack(">f", raw)[0], end
    if number == 7:
        return _charstring(raw), end
    if number == 12 and lvt == 4:
        oid = _unsigned(raw)
        return f"{oid >> 22}:{oid & 0x3FFFFF}", end
    return raw[:32].hex(), end  # octet/bit strings, dates, times: kept raw, short


def _charstring(raw: bytes) -> str:
    if not raw:
        return ""
    charset, body = raw[0], raw[1 : 1 + 4 * MAX_TEXT]
    if charset == 4:  # UCS-2
        text = body[: len(body) // 2 * 2].decode("utf-16-be", "replace")
    elif charset == 5:  # ISO 8859-1
        text = body.decode("latin-1")
    else:  # 0: UTF-8 (ANSI X3.4 is its subset); others (DBCS, JIS) best effort
        text = body.decode("utf-8", "replace")
    return "".join(c for c in text if c.isprintable())[:MAX_TEXT]


def parse_reply(buf: bytes, invoke_id: int | None = None) -> dict[str, Any]:
    """A reply to ReadProperty -> {"property": id, "value": v} for a Complex-ACK, or
    {"error": ...} for an Error / Reject / Abort PDU (still proof of BACnet)."""
    apdu = _apdu(buf)
    kind = apdu[0] >> 4
    if kind in _PDU_NAMES:
        if len(apdu) < 3:
            raise ProtocolError("truncated BACnet error PDU")
        got_id = apdu[1]
        if invoke_id is not None and got_id != invoke_id:
            raise ProtocolError("BACnet reply to another request")
        out: dict[str, Any] = {"error": _PDU_NAMES[kind], "reason": apdu[2]}
        if kind == 5 and len(apdu) >= 4:
            with contextlib.suppress(ProtocolError):
                cls, p = decode_value(apdu, 3)
                code, _ = decode_value(apdu, p)
                out = {"error": "error", "error_class": ERROR_CLASSES.get(cls, cls),
                       "error_code": code}
        return out
    if kind != 3 or len(apdu) < 3:
        raise ProtocolError(f"not a BACnet Complex-ACK: {apdu[:4].hex()}")
    if apdu[0] & 0x08:
        raise ProtocolError("segmented BACnet reply (not reassembled)")
    if invoke_id is not None and apdu[1] != invoke_id:
        raise ProtocolError("BACnet reply to another request")
    if apdu[2] != READ_PROPERTY:
        raise ProtocolError(f"BACnet ACK for service {apdu[2]}, not ReadProperty")
    pos = 3
    number, context, lvt, n, _ = _tag(apdu, pos)
    if not context or number != 0 or lvt != 4:
        raise ProtocolError("ReadProperty-ACK without an object identifier")
    pos += n + 4
    number, context, lvt, n, _ = _tag(apdu, pos)
    if not context or number != 1 or not 1 <= lvt <= 4:
        raise ProtocolError("ReadProperty-ACK without a property identifier")
    prop = _unsigned(apdu[pos + n : pos + n + lvt])
    pos += n + lvt
    number, context, lvt, n, kind = _tag(apdu, pos)
    if context and number == 2 and not kind:  # array index
        pos += n + lvt
        number, context, lvt, n, kind = _tag(apdu, pos)
    if not (context and number == 3 and kind == 6):
        raise ProtocolError("ReadProperty-ACK without a value")
    value, _ = decode_value(apdu, pos + n)
    return {"property": prop, "value": value}


def who_is() -> bytes:
    """Unconfirmed Who-Is without a range, sent to the device itself (unicast): it
    answers with I-Am, which names its instance."""
    npdu = b"\x01\x00" + b"\x10\x08"
    return bytes([0x81, BVLC_UNICAST_NPDU]) + (len(npdu) + 4).to_bytes(2, "big") + npdu


def parse_i_am(buf: bytes) -> dict[str, Any]:
    apdu = _apdu(buf)
    if len(apdu) < 2 or apdu[0] != 0x10 or apdu[1] != 0x00:
        raise ProtocolError("not an I-Am")
    oid, pos = decode_value(apdu, 2)
    max_apdu, pos = decode_value(apdu, pos)
    segmentation, pos = decode_value(apdu, pos)
    vendor_id, _ = decode_value(apdu, pos)
    if not isinstance(oid, str) or not oid.startswith(f"{DEVICE}:"):
        raise ProtocolError("I-Am without a device identifier")
    return {"instance": int(oid.split(":")[1]), "max_apdu": max_apdu,
            "segmentation": segmentation, "vendor_id": vendor_id}


def _accepts(parse: Any, *args: Any) -> Any:
    def ours(reply: bytes) -> bool:
        try:
            parse(reply, *args)
        except ProtocolError:
            return False
        return True

    return ours


async def _read_device(d: Datagram, instance: int, invoke: int, timeout: float
                       ) -> tuple[dict[str, Any], list[bytes], bool]:
    """ReadProperty of each device property -> (section, raw replies, answered at all).
    A property the device refuses is recorded as its error code."""
    section: dict[str, Any] = {}
    raw: list[bytes] = []
    for i, (prop, name) in enumerate(PROPERTIES.items()):
        invoke = (invoke + 1) & 0xFF
        reply = await d.request(read_property(prop, invoke, instance),
                                timeout if i == 0 else min(timeout, 1.5), MAX_MSG,
                                _accepts(parse_reply, invoke))
        if reply is None:
            if i == 0:
                return section, raw, False
            continue
        raw.append(reply)
        r = parse_reply(reply, invoke)
        if "error" in r:
            section.setdefault("errors", {})[name] = r.get("error_code", r["error"])
        elif r["property"] == prop and r["value"] is not None:
            section[name] = r["value"]
    return section, raw, True


async def probe(ip: str, port: int, opts: Any, result: Any) -> str:
    t = opts.read_timeout
    async with Datagram(ip, port) as d:
        invoke = os.urandom(1)[0]
        section, raw, answered = await _read_device(d, WILDCARD_INSTANCE, invoke, t)
        if not answered:
            return Outcome.SILENT
        if len(section.get("errors", {})) == len(PROPERTIES):
            # No wildcard support (bacpypes3, some controllers): ask who it is, then
            # read again by its own instance.
            reply = await d.request(who_is(), min(t, 2.0), MAX_MSG, _accepts(parse_i_am))
            if reply is not None:
                raw.append(reply)
                i_am = parse_i_am(reply)
                again, more, _ = await _read_device(d, i_am["instance"], invoke + 16, t)
                section = {"instance": i_am["instance"], "vendor_id": i_am["vendor_id"],
                           **again}
                raw += more
    result.service = "bacnet"
    result.data = raw[0]
    result.responses["bacnet-readproperty"] = b"".join(raw)[: opts.max_bytes]
    result.sections["bacnet"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="bacnet", udp_ports=(47808,), udp_probe=probe,
                    # ReadProperty vendor-name of the wildcard device, and Who-Is
                    udp_payloads=lambda rid: (read_property(121, rid & 0xFF), who_is()))
