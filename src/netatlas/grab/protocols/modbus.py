"""Modbus/TCP grabber: Read Device Identification (function 0x2B, MEI 0x0E), the
read-only request nmap's modbus-discover sends. Basic objects first (vendor, product
code, revision), then the regular ones (URL, product and model names) when the device's
conformity level says it has them; Report Server ID (0x11) when a device refuses those.
Nothing is ever written or polled.

An exception reply proves Modbus as well as an answer does: many PLCs refuse the MEI
function (exception 1) or the unit id (gateway exceptions 0x0A/0x0B)."""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any

from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

FC_DEVICE_ID = 0x2B
FC_SERVER_ID = 0x11
MEI_DEVICE_ID = 0x0E
BASIC, REGULAR = 0x01, 0x02
# Unit 0 is what a Modbus/TCP server (not a gateway) answers; 255 and 1 are what
# gateways and serial-bridged devices answer instead (modbus-discover's order).
UNIT_IDS = (0, 255, 1)
MAX_ROUNDS = 4  # "more follows" continuations per category
MAX_FRAME = 260  # MBAP header (7) + the largest PDU (253)
MAX_VALUE = 128
OBJECT_NAMES = {
    0x00: "vendor_name",
    0x01: "product_code",
    0x02: "revision",  # MajorMinorRevision
    0x03: "vendor_url",
    0x04: "product_name",
    0x05: "model_name",
    0x06: "user_application_name",
}
EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}


def device_id_request(tid: int, unit: int, code: int = BASIC, start: int = 0) -> bytes:
    """MBAP header + PDU ``2B 0E code object``: six bytes follow the length field."""
    pdu = bytes([FC_DEVICE_ID, MEI_DEVICE_ID, code, start])
    return tid.to_bytes(2, "big") + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + bytes(
        [unit]) + pdu


def frame_complete(buf: bytes) -> bool:
    """A whole MBAP frame is in (or the bytes cannot be one: stop reading)."""
    if len(buf) < 7:
        return False
    if buf[2:4] != b"\x00\x00":
        return True
    return len(buf) >= 6 + int.from_bytes(buf[4:6], "big")


def parse_frame(buf: bytes, tid: int | None = None) -> tuple[int, bytes]:
    """MBAP frame -> (unit id, PDU). Checks the protocol id, the length, the transaction."""
    if len(buf) < 9:
        raise ProtocolError(f"short Modbus/TCP frame: {buf[:16].hex()}")
    if buf[2:4] != b"\x00\x00":
        raise ProtocolError(f"not Modbus/TCP: protocol id {buf[2:4].hex()}")
    length = int.from_bytes(buf[4:6], "big")
    if not 2 <= length <= 254 or len(buf) < 6 + length:
        raise ProtocolError(f"bad Modbus/TCP length {length} ({len(buf)} bytes)")
    if tid is not None and int.from_bytes(buf[:2], "big") != tid:
        raise ProtocolError("Modbus/TCP reply to another transaction")
    return buf[6], buf[7 : 6 + length]


def _text(raw: bytes) -> str:
    return raw[:MAX_VALUE].decode("latin-1").strip("\x00 ").replace("\x00", "")


def parse_device_id(pdu: bytes) -> dict[str, Any]:
    """The PDU of a reply to 2B/0E. An exception reply -> {"exception": code, ...};
    a device-id reply -> conformity level, more-follows, next object and the objects."""
    if not pdu:
        raise ProtocolError("empty Modbus PDU")
    if pdu[0] == FC_DEVICE_ID | 0x80:
        if len(pdu) < 2:
            raise ProtocolError("truncated Modbus exception")
        code = pdu[1]
        if code not in EXCEPTIONS:
            raise ProtocolError(f"unknown Modbus exception code {code}")
        return {"exception": code, "exception_text": EXCEPTIONS[code]}
    if pdu[0] != FC_DEVICE_ID or len(pdu) < 7 or pdu[1] != MEI_DEVICE_ID:
        raise ProtocolError(f"not a Read Device Identification reply: {pdu[:8].hex()}")
    code, conformity, more, next_id, count = pdu[2], pdu[3], pdu[4], pdu[5], pdu[6]
    if code not in (1, 2, 3, 4) or more not in (0x00, 0xFF):
        raise ProtocolError("bad Read Device Identification header")
    objects: dict[int, str] = {}
    pos = 7
    for _ in range(count):
        if pos + 2 > len(pdu):
            raise ProtocolError("Modbus device-id object runs past the reply")
        oid, n = pdu[pos], pdu[pos + 1]
        if pos + 2 + n > len(pdu):
            raise ProtocolError("Modbus device-id object value runs past the reply")
        objects[oid] = _text(pdu[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return {"conformity": conformity, "more": more == 0xFF, "next": next_id,
            "objects": objects}


def server_id_request(tid: int, unit: int) -> bytes:
    """Report Server ID (0x11): read-only, answered by devices without MEI 0x0E."""
    return tid.to_bytes(2, "big") + b"\x00\x00\x00\x02" + bytes([unit, FC_SERVER_ID])


def parse_server_id(pdu: bytes) -> dict[str, Any]:
    """Reply to 0x11 -> its data, printable (the layout is the device's own)."""
    if len(pdu) >= 2 and pdu[0] == FC_SERVER_ID | 0x80:
        return {"exception": pdu[1]}
    if len(pdu) < 2 or pdu[0] != FC_SERVER_ID or pdu[1] < 1 or 2 + pdu[1] > len(pdu):
        raise ProtocolError(f"not a Report Server ID reply: {pdu[:8].hex()}")
    data = pdu[2 : 2 + pdu[1]]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data[:MAX_VALUE])
    return {"server_id": text}


def section_from(unit: int, objects: dict[int, str], conformity: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"unit_id": unit}
    if conformity is not None:
        out["conformity_level"] = conformity
    for oid, value in sorted(objects.items()):
        name = OBJECT_NAMES.get(oid)
        if name and value:
            out[name] = value
        elif oid >= 0x80 and value:  # private objects: kept, a few
            out.setdefault("private_objects", {})[f"{oid:#04x}"] = value
    return out


class _Session:
    """Requests on one connection, each with its own transaction id."""

    def __init__(self, conn: Conn, timeout: float) -> None:
        self.conn, self.timeout = conn, timeout
        self.tid = int.from_bytes(os.urandom(2), "big") or 1
        self.raw: list[bytes] = []

    async def ask(self, unit: int, code: int, start: int = 0) -> dict[str, Any]:
        self.tid = (self.tid + 1) & 0xFFFF
        await self.conn.write(device_id_request(self.tid, unit, code, start), self.timeout)
        reply = await self.conn.read_until_done(frame_complete, MAX_FRAME, self.timeout)
        self.raw.append(reply)
        got_unit, pdu = parse_frame(reply, self.tid)
        if got_unit != unit:
            raise ProtocolError("Modbus reply for another unit")
        return parse_device_id(pdu)

    async def server_id(self, unit: int) -> dict[str, Any]:
        self.tid = (self.tid + 1) & 0xFFFF
        await self.conn.write(server_id_request(self.tid, unit), self.timeout)
        reply = await self.conn.read_until_done(frame_complete, MAX_FRAME, self.timeout)
        self.raw.append(reply)
        return parse_server_id(parse_frame(reply, self.tid)[1])

    async def read_category(self, unit: int, code: int, start: int = 0
                            ) -> tuple[dict[int, str], int]:
        """The objects of one category from ``start``, following "more follows" a
        bounded number of times. Returns (objects, conformity level)."""
        objects: dict[int, str] = {}
        conformity = 0
        for _ in range(MAX_ROUNDS):
            r = await self.ask(unit, code, start)
            if "exception" in r:
                break
            objects.update(r["objects"])
            conformity = r["conformity"]
            if not r["more"] or r["next"] <= start:
                break
            start = r["next"]
        return objects, conformity


async def probe(ctx: GrabContext) -> str:
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    t = ctx.opts.read_timeout
    s = _Session(conn, t)
    exception: dict[str, Any] | None = None
    try:
        for i, unit in enumerate(UNIT_IDS):
            try:
                first = await s.ask(unit, BASIC)
            except TimeoutError:
                if i == 0:
                    return Outcome.SILENT
                break  # a gateway that drops unknown units: keep what we have
            except ProtocolError:
                return Outcome.NEGATIVE if exception is None else _record(ctx, s, exception)
            if "exception" in first:
                exception = exception or {"unit_id": unit, **first}  # the first unit's
                continue
            objects, conformity = first["objects"], first["conformity"]
            # What a continuation or the regular category fails to give is just missing.
            with contextlib.suppress(TimeoutError, ProtocolError):
                if first["more"]:
                    more, _ = await s.read_category(unit, BASIC, first["next"])
                    objects = {**objects, **more}
                if conformity & 0x7F >= REGULAR:  # the device says it has regular objects
                    regular, _ = await s.read_category(unit, REGULAR)
                    objects = {**objects, **regular}
            return _record(ctx, s, section_from(unit, objects, conformity))
        if exception is None:
            return Outcome.NEGATIVE
        # No identification objects: what nmap's modbus-discover asks first instead.
        with contextlib.suppress(TimeoutError, ProtocolError):
            sid = await s.server_id(exception["unit_id"])
            if "server_id" in sid:
                exception["server_id"] = sid["server_id"]
        return _record(ctx, s, exception)
    except (ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE if exception is None else _record(ctx, s, exception)
    finally:
        await conn.close()


def _record(ctx: GrabContext, s: _Session, section: dict[str, Any]) -> str:
    ctx.result.service = "modbus"
    ctx.result.data = s.raw[0] if s.raw else b""
    ctx.result.responses["modbus-device-id"] = b"".join(s.raw)[: ctx.opts.max_bytes]
    ctx.result.sections["modbus"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="modbus", ports=(502,), probe=probe, unhinted="frame-only")
