"""A small BSON codec for MongoDB's handshake: encode a flat command, decode a reply
under hard caps (size, depth, element count). Decoding is for reading metadata, so
exotic types come back as short tags rather than objects."""

from __future__ import annotations

import struct
from typing import Any

from ..engine.errors import ProtocolError

MAX_DOC = 64 * 1024
MAX_DEPTH = 8
MAX_ELEMENTS = 512  # over the whole document, nested ones included
MAX_STRING = 1024


def encode(doc: dict[str, Any]) -> bytes:
    """Command documents: str, bool, int (int32/int64), float, nested dict."""
    body = bytearray()
    for key, value in doc.items():
        name = key.encode() + b"\x00"
        if isinstance(value, bool):
            body += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            if -(2**31) <= value < 2**31:
                body += b"\x10" + name + struct.pack("<i", value)
            else:
                body += b"\x12" + name + struct.pack("<q", value)
        elif isinstance(value, float):
            body += b"\x01" + name + struct.pack("<d", value)
        elif isinstance(value, str):
            raw = value.encode() + b"\x00"
            body += b"\x02" + name + struct.pack("<i", len(raw)) + raw
        elif isinstance(value, dict):
            body += b"\x03" + name + encode(value)
        else:
            raise TypeError(f"cannot encode {type(value).__name__}")
    return struct.pack("<i", len(body) + 5) + bytes(body) + b"\x00"


class _Decoder:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.elements = 0

    def cstring(self, pos: int) -> tuple[str, int]:
        end = self.buf.find(b"\x00", pos, pos + MAX_STRING + 1)
        if end < 0:
            raise ProtocolError("BSON cstring without end (or too long)")
        return self.buf[pos:end].decode("utf-8", "replace"), end + 1

    def need(self, pos: int, n: int, end: int) -> None:
        if n < 0 or pos + n > end:
            raise ProtocolError("BSON value runs past its document")

    def doc(self, pos: int, depth: int, array: bool = False) -> tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise ProtocolError("BSON nested too deep")
        self.need(pos, 5, len(self.buf))
        size = struct.unpack_from("<i", self.buf, pos)[0]
        end = pos + size
        if size < 5 or end > len(self.buf) or self.buf[end - 1] != 0:
            raise ProtocolError(f"bad BSON document size {size}")
        out: dict[str, Any] = {}
        p = pos + 4
        while p < end - 1:
            self.elements += 1
            if self.elements > MAX_ELEMENTS:
                raise ProtocolError("BSON document has too many elements")
            kind = self.buf[p]
            key, p = self.cstring(p + 1)
            value, p = self.value(kind, p, end, depth)
            out[key] = value
        if p != end - 1:
            raise ProtocolError("BSON elements overrun their document")
        return (list(out.values()) if array else out), end

    def value(self, kind: int, p: int, end: int, depth: int) -> tuple[Any, int]:
        b = self.buf
        if kind == 0x01:
            self.need(p, 8, end)
            return struct.unpack_from("<d", b, p)[0], p + 8
        if kind in (0x02, 0x0D, 0x0E):  # string, JavaScript code, symbol
            self.need(p, 4, end)
            n = struct.unpack_from("<i", b, p)[0]
            self.need(p + 4, n, end)
            if n < 1 or b[p + 4 + n - 1] != 0:
                raise ProtocolError("bad BSON string")
            return b[p + 4 : p + 4 + min(n - 1, MAX_STRING)].decode("utf-8", "replace"), p + 4 + n
        if kind in (0x03, 0x04):
            return self.doc(p, depth + 1, array=kind == 0x04)
        if kind == 0x05:
            self.need(p, 5, end)
            n = struct.unpack_from("<i", b, p)[0]
            self.need(p + 5, n, end)
            return f"<binary {n} bytes>", p + 5 + n
        if kind in (0x06, 0x0A, 0x7F, 0xFF):  # undefined, null, max/min key
            return None, p
        if kind == 0x07:
            self.need(p, 12, end)
            return b[p : p + 12].hex(), p + 12
        if kind == 0x08:
            self.need(p, 1, end)
            return b[p] != 0, p + 1
        if kind in (0x09, 0x11, 0x12):  # datetime, timestamp, int64
            self.need(p, 8, end)
            return struct.unpack_from("<q", b, p)[0], p + 8
        if kind == 0x0B:
            pattern, p = self.cstring(p)
            _, p = self.cstring(p)
            return pattern, p
        if kind == 0x10:
            self.need(p, 4, end)
            return struct.unpack_from("<i", b, p)[0], p + 4
        if kind == 0x13:
            self.need(p, 16, end)
            return "<decimal128>", p + 16
        raise ProtocolError(f"unsupported BSON type {kind:#04x}")


def decode(buf: bytes, pos: int = 0) -> tuple[dict[str, Any], int]:
    """The document at ``pos`` -> (dict, end offset). Raises ProtocolError on anything
    malformed or over the caps."""
    if len(buf) >= pos + 4 and struct.unpack_from("<i", buf, pos)[0] > MAX_DOC:
        raise ProtocolError("BSON document over the size cap")
    doc, end = _Decoder(buf).doc(pos, 0)
    return doc, end
