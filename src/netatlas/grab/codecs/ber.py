"""A small, bounded BER codec: just what SNMP's few PDUs need (sans-IO).

Decoding never trusts a length: every TLV must fit inside its parent, nesting and
element counts are capped, and any violation raises ``ProtocolError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.errors import ProtocolError

INTEGER, OCTET_STRING, NULL, OID, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB = 0x80, 0x81, 0x82
MAX_DEPTH = 8
MAX_ITEMS = 64
MAX_OID_ARCS = 128


@dataclass(frozen=True, slots=True)
class TLV:
    tag: int
    value: bytes


# -- encoding ------------------------------------------------------------------------------

def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def integer(n: int, tag: int = INTEGER) -> bytes:
    size = max(1, (n + (n < 0)).bit_length() // 8 + 1)
    return tlv(tag, n.to_bytes(size, "big", signed=True))


def octets(data: bytes | str) -> bytes:
    return tlv(OCTET_STRING, data.encode() if isinstance(data, str) else data)


def null() -> bytes:
    return tlv(NULL, b"")


def _base128(n: int) -> bytes:
    chunk = [n & 0x7F]
    n >>= 7
    while n:
        chunk.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(chunk))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.strip(".").split(".")]
    subids = [arcs[0] * 40 + arcs[1], *arcs[2:]]
    return tlv(OID, b"".join(_base128(n) for n in subids))


def seq(*items: bytes, tag: int = SEQUENCE) -> bytes:
    return tlv(tag, b"".join(items))


# -- decoding ------------------------------------------------------------------------------

def read_tlv(buf: bytes, pos: int = 0, end: int | None = None) -> tuple[TLV, int]:
    """One TLV at ``pos`` that must end by ``end``; returns it and the next position."""
    end = len(buf) if end is None else end
    if pos + 2 > end:
        raise ProtocolError("BER: truncated header")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ProtocolError("BER: multi-byte tags are not used by SNMP")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise ProtocolError("BER: bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise ProtocolError("BER: value runs past its container")
    return TLV(tag, buf[pos : pos + n]), pos + n


def children(value: bytes) -> list[TLV]:
    """The TLVs inside a constructed value (capped at MAX_ITEMS)."""
    out: list[TLV] = []
    pos = 0
    while pos < len(value):
        if len(out) >= MAX_ITEMS:
            raise ProtocolError("BER: too many elements")
        item, pos = read_tlv(value, pos)
        out.append(item)
    return out


def expect(item: TLV, tag: int, what: str) -> TLV:
    if item.tag != tag:
        raise ProtocolError(f"BER: {what}: tag 0x{item.tag:02x}, expected 0x{tag:02x}")
    return item


def as_int(item: TLV) -> int:
    if not item.value or len(item.value) > 9:
        raise ProtocolError("BER: bad integer length")
    signed = item.tag == INTEGER
    return int.from_bytes(item.value, "big", signed=signed)


def as_oid(item: TLV) -> str:
    """Dotted text; arcs are capped at 32 bits and MAX_OID_ARCS, as SNMP's are."""
    raw = item.value
    if not raw:
        raise ProtocolError("BER: empty OID")
    subids: list[int] = []
    arc = 0
    for b in raw:
        if len(subids) >= MAX_OID_ARCS or (arc == 0 and b == 0x80):
            raise ProtocolError("BER: bad OID")
        arc = (arc << 7) | (b & 0x7F)
        if arc >= 1 << 32:
            raise ProtocolError("BER: OID arc too large")
        if not b & 0x80:
            subids.append(arc)
            arc = 0
    if raw[-1] & 0x80:
        raise ProtocolError("BER: OID ends inside an arc")
    first = subids[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + subids[1:]))


def value_of(item: TLV) -> str | int | None:
    """An SNMP varbind value rendered plainly: text for strings (non-UTF-8 as hex),
    numbers for the integer types, dotted text for OIDs and addresses, None for
    NULL and the v2c exceptions (noSuchObject, ...)."""
    tag = item.tag
    if tag in (OCTET_STRING, OPAQUE):
        try:
            text = item.value.decode("utf-8")
        except UnicodeDecodeError:
            return item.value.hex()
        return text if text.isprintable() or "\n" in text else item.value.hex()
    if tag in (INTEGER, COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return as_int(item)
    if tag == OID:
        return as_oid(item)
    if tag == IP_ADDRESS and len(item.value) == 4:
        return ".".join(str(b) for b in item.value)
    return None
