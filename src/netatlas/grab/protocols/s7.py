"""S7comm grabber (Siemens S7 PLCs on ISO-TSAP, port 102): what nmap's s7-info reads.

A COTP connection request (rack/slot TSAPs 0x0100 -> 0x0102, then 0x0200 -> 0x0200), an
S7 "setup communication", then two read-only SZL (system status list) reads: 0x0011
module identification (order number, firmware) and 0x001C component identification
(system name, module name, plant id, copyright, serial, module type). Nothing is written,
started or stopped."""

from __future__ import annotations

import asyncio
import ssl
import struct
from typing import Any

from ..codecs.tpkt import connection_confirms, rdp_negotiation
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

# (source TSAP, destination TSAP) as s7-info tries them: PG to rack 0 slot 2, then a
# second connection type that other CPUs (S7-200, some S7-1200) accept.
TSAPS = ((0x0100, 0x0102), (0x0200, 0x0200))
MAX_TPKT = 4096
MAX_TEXT = 64
LATE_REPLY_WAIT = 0.1  # seconds: a reply found in the buffer after a deadline (_exchange)
COTP_CR, COTP_CC, COTP_DT = 0xE0, 0xD0, 0xF0
SZL_MODULE_ID, SZL_COMPONENT_ID = 0x0011, 0x001C
# SZL 0x001C record index -> field; records without an index (some emulators) are taken
# in the order real CPUs list them.
COMPONENT_FIELDS = {
    1: "system_name",
    2: "module_name",
    3: "plant_id",
    4: "copyright",
    5: "serial_number",
    7: "module_type",
    8: "memory_card_serial",
    10: "oem_id",
    11: "location",
}
_COMPONENT_ORDER = (1, 2, 3, 4, 5, 7, 8, 9, 10, 11)


def tpkt(payload: bytes) -> bytes:
    return b"\x03\x00" + (len(payload) + 4).to_bytes(2, "big") + payload


def cotp_cr(src_tsap: int, dst_tsap: int) -> bytes:
    """COTP CR: class 0, TPDU size 1024, calling and called TSAPs."""
    params = (b"\xc0\x01\x0a" + b"\xc1\x02" + src_tsap.to_bytes(2, "big")
              + b"\xc2\x02" + dst_tsap.to_bytes(2, "big"))
    body = bytes([COTP_CR]) + b"\x00\x00" + b"\x00\x01" + b"\x00" + params
    return tpkt(bytes([len(body)]) + body)


def _s7(rosctr: int, params: bytes, data: bytes = b"", pdu_ref: int = 0) -> bytes:
    header = struct.pack(">BBHHHH", 0x32, rosctr, 0, pdu_ref, len(params), len(data))
    return tpkt(b"\x02\xf0\x80" + header + params + data)


def setup_communication(pdu_size: int = 480) -> bytes:
    """Job 0xF0: one outstanding request each way, our PDU size."""
    return _s7(0x01, b"\xf0\x00\x00\x01\x00\x01" + pdu_size.to_bytes(2, "big"), pdu_ref=1)


def read_szl(szl_id: int, index: int = 0, pdu_ref: int = 2) -> bytes:
    """User data, function group 4 (CPU functions), subfunction 1 (read SZL)."""
    params = b"\x00\x01\x12\x04\x11\x44\x01\x00"
    data = b"\xff\x09\x00\x04" + struct.pack(">HH", szl_id, index)
    return _s7(0x07, params, data, pdu_ref)


def tpkt_complete(buf: bytes) -> bool:
    if len(buf) < 4:
        return False
    if buf[0] != 0x03:
        return True  # not TPKT: stop and let the parser say so
    return len(buf) >= int.from_bytes(buf[2:4], "big")


def split_tpkt(buf: bytes) -> bytes:
    """The payload of the TPKT frame at the start of ``buf``."""
    if len(buf) < 4 or buf[0] != 0x03 or buf[1] != 0x00:
        raise ProtocolError(f"not a TPKT frame: {buf[:8].hex()}")
    n = int.from_bytes(buf[2:4], "big")
    if not 7 <= n <= len(buf):
        raise ProtocolError(f"bad TPKT length {n} ({len(buf)} bytes)")
    return buf[4:n]


def parse_cotp_cc(buf: bytes) -> dict[str, Any]:
    """COTP connection confirm -> its TSAPs; anything else (a DR, junk) raises."""
    p = split_tpkt(buf)
    if len(p) < 7 or p[0] + 1 > len(p):
        raise ProtocolError("short COTP TPDU")
    if p[1] & 0xF0 != COTP_CC:
        raise ProtocolError(f"COTP TPDU {p[1]:#04x} is not a connection confirm")
    out: dict[str, Any] = {}
    pos, end = 7, p[0] + 1
    while pos + 2 <= end:
        code, n = p[pos], p[pos + 1]
        value = p[pos + 2 : pos + 2 + n]
        if code == 0xC1:
            out["src_tsap"] = int.from_bytes(value, "big")
        elif code == 0xC2:
            out["dst_tsap"] = int.from_bytes(value, "big")
        pos += 2 + n
    return out


def parse_s7(buf: bytes) -> tuple[int, bytes, bytes]:
    """TPKT + COTP DT + S7 PDU -> (ROSCTR, parameters, data). An ack with an error
    class raises."""
    p = split_tpkt(buf)
    if len(p) < 3 or p[1] != COTP_DT:
        raise ProtocolError("not a COTP data TPDU")
    s = p[p[0] + 1 :]
    if len(s) < 10 or s[0] != 0x32:
        raise ProtocolError(f"not an S7comm PDU: {s[:4].hex()}")
    rosctr = s[1]
    plen, dlen = struct.unpack(">HH", s[6:10])
    head = 12 if rosctr in (2, 3) else 10
    if len(s) < head + plen + dlen:
        raise ProtocolError("S7comm PDU shorter than its lengths")
    if head == 12 and (s[10] or s[11]):
        raise ProtocolError(f"S7comm error class {s[10]:#04x} code {s[11]:#04x}")
    return rosctr, s[head : head + plen], s[head + plen : head + plen + dlen]


def parse_setup(buf: bytes) -> int:
    """Setup-communication ack -> the negotiated PDU size."""
    rosctr, params, _ = parse_s7(buf)
    if rosctr != 3 or len(params) < 8 or params[0] != 0xF0:
        raise ProtocolError("not an S7 setup-communication ack")
    return int.from_bytes(params[6:8], "big")


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0][:MAX_TEXT].decode("latin-1").strip()


def szl_records(buf: bytes) -> tuple[int, list[bytes]]:
    """An SZL read response -> (SZL id, records). Record length comes from the header;
    an emulator that leaves it 0 gets the standard length for the id."""
    rosctr, params, data = parse_s7(buf)
    if rosctr != 7 or len(params) < 12 or params[5] & 0x0F != 4:
        raise ProtocolError("not an SZL user-data response")
    if params[10] or params[11]:
        raise ProtocolError(f"SZL read refused: error {params[10:12].hex()}")
    if len(data) < 12 or data[0] != 0xFF:
        raise ProtocolError(f"SZL read refused: return code {data[:1].hex()}")
    szl_id = int.from_bytes(data[4:6], "big")
    size, _count = struct.unpack(">HH", data[8:12])
    body = data[12 : 4 + int.from_bytes(data[2:4], "big")]
    if not size:
        size = {SZL_MODULE_ID: 28, SZL_COMPONENT_ID: 34}.get(szl_id, 0)
    if size < 4:
        raise ProtocolError(f"bad SZL record length {size}")
    return szl_id, [body[i : i + size] for i in range(0, min(len(body), 32 * size), size)
                    if len(body[i : i + size]) == size]


def parse_module_id(buf: bytes) -> dict[str, Any]:
    """SZL 0x0011: index 1 is the module (order number), 6/7 the basic hardware and
    firmware; the last three bytes of a record are its version."""
    szl_id, records = szl_records(buf)
    if szl_id != SZL_MODULE_ID:
        raise ProtocolError(f"asked for SZL 0x0011, got {szl_id:#06x}")
    out: dict[str, Any] = {}
    for rec in records:
        index = int.from_bytes(rec[:2], "big")
        version = ".".join(str(b) for b in rec[-3:])
        if index in (0, 1) and "order_code" not in out:
            order = _text(rec[2:22])
            if order:
                out["order_code"] = order
            out["module_version"] = version
        elif index == 6:
            out["hardware_version"] = version
        elif index == 7:
            out["firmware_version"] = version
    if "firmware_version" not in out and "module_version" in out:
        out["firmware_version"] = out["module_version"]
    return out


def parse_component_id(buf: bytes) -> dict[str, Any]:
    szl_id, records = szl_records(buf)
    if szl_id != SZL_COMPONENT_ID:
        raise ProtocolError(f"asked for SZL 0x001C, got {szl_id:#06x}")
    out: dict[str, Any] = {}
    for pos, rec in enumerate(records[: len(_COMPONENT_ORDER)]):
        index = int.from_bytes(rec[:2], "big") or _COMPONENT_ORDER[pos]
        name = COMPONENT_FIELDS.get(index)
        value = _text(rec[2:])
        if name and value and name not in out:
            out[name] = value
    return out


async def _exchange(conn: Conn, request: bytes, t: float) -> bytes:
    await conn.write(request, t)
    try:
        return await conn.read_until_done(tpkt_complete, MAX_TPKT, t)
    except TimeoutError:
        # The deadline is kept by this process's event loop. One busy past it (a scan's
        # other grabs identifying, hashing, matching patterns on a loaded machine) takes
        # in the PLC's reply and then runs the expired deadline: the reply sits unread
        # and a PLC that answered looked silent (issue 15 #13: no S7comm, no finding,
        # under load only). Let the loop poll its sockets (twice: a task resumed by
        # sleep(0) runs before that round's I/O callbacks), then take what has arrived.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return await conn.read_until_done(tpkt_complete, MAX_TPKT, LATE_REPLY_WAIT)


async def _connect(ctx: GrabContext, src: int, dst: int) -> tuple[Conn, dict[str, Any]] | str:
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    reply = b""
    try:
        reply = await _exchange(conn, cotp_cr(src, dst), ctx.opts.read_timeout)
        return conn, parse_cotp_cc(reply)
    except TimeoutError:
        await conn.close()
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError, OSError, ProtocolError):
        await conn.close()
        # a TPKT reply (a disconnect request) or a hang-up: another TSAP pair may do;
        # anything else is another protocol altogether
        return _REFUSED if reply[:1] in (b"", b"\x03") else Outcome.NEGATIVE


_REFUSED = "refused"


async def probe(ctx: GrabContext) -> str:
    t = ctx.opts.read_timeout
    for src, dst in TSAPS:
        got = await _connect(ctx, src, dst)
        if isinstance(got, str):
            if got != _REFUSED:
                return got  # silent to a CR, or not ISO-TSAP: no second try
            continue
        conn = got[0]
        section: dict[str, Any] = {"src_tsap": f"{src:#06x}", "dst_tsap": f"{dst:#06x}"}
        raw: list[bytes] = []
        try:
            try:
                reply = await _exchange(conn, setup_communication(), t)
                raw.append(reply)
                section["pdu_size"] = parse_setup(reply)
            except (TimeoutError, ProtocolError):
                # COTP answered: ISO-TSAP for sure, but this TSAP pair speaks no S7.
                _record(ctx, section, raw, s7=False)
                continue
            for szl, parse in ((SZL_MODULE_ID, parse_module_id),
                               (SZL_COMPONENT_ID, parse_component_id)):
                try:
                    reply = await _exchange(conn, read_szl(szl, pdu_ref=2 + len(raw)), t)
                    raw.append(reply)
                    section.update(parse(reply))
                except (TimeoutError, ProtocolError) as e:
                    section.setdefault("szl_errors", {})[f"{szl:#06x}"] = str(e)[:100]
            _record(ctx, section, raw, s7=True)
            return Outcome.POSITIVE
        except (ConnectionError, ssl.SSLError, OSError):
            _record(ctx, section, raw, s7=bool(raw))
            return Outcome.POSITIVE
        finally:
            await conn.close()
    return Outcome.POSITIVE if ctx.result.service == "iso-tsap" else Outcome.NEGATIVE


def _record(ctx: GrabContext, section: dict[str, Any], raw: list[bytes], s7: bool) -> None:
    section["s7comm"] = s7
    ctx.result.service = "iso-tsap"
    ctx.result.data = raw[0] if raw else b""
    ctx.result.responses["s7-szl"] = b"".join(raw)[: ctx.opts.max_bytes]
    ctx.result.sections["s7"] = section


def in_nmap_replies(replies: list[bytes]) -> int:
    """A COTP connection confirm (to nmap's TerminalServer*) is more likely an S7 PLC,
    unless it carries an RDP negotiation response."""
    confirms = connection_confirms(replies)
    if any(rdp_negotiation(c) for c in confirms):
        return 1
    return 2 if confirms else 0


# S7 before RDP: our RDP probe takes a PLC's bare COTP confirm for standard RDP
# security; our S7 probe says no to RDP.
PROTOCOL = Protocol(name="s7", ports=(102,), probe=probe, unhinted="frame-only",
                    nmap_replies=in_nmap_replies)
