"""A bounds-checked big-endian reader for length-prefixed binary protocols (Kafka,
Cassandra CQL): every read checks what is left, so a length of 2^31 or a frame cut
short raises ``Truncated`` instead of reading past the buffer or allocating it, and a
varint is read to 5 bytes at most."""

from __future__ import annotations

import struct

from ..engine.errors import ProtocolError


class Truncated(ProtocolError):
    """The bytes ended before the structure did (a frame cut at our cap, or a lie)."""


class Cursor:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    @property
    def left(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.left:
            raise Truncated(f"wanted {n} bytes at {self.pos}, {self.left} left")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def _unpack(self, fmt: str, size: int) -> int:
        value: int = struct.unpack(fmt, self.take(size))[0]
        return value

    def u8(self) -> int:
        return self._unpack(">B", 1)

    def i16(self) -> int:
        return self._unpack(">h", 2)

    def u16(self) -> int:
        return self._unpack(">H", 2)

    def i32(self) -> int:
        return self._unpack(">i", 4)

    def i64(self) -> int:
        return self._unpack(">q", 8)

    def uvarint(self, limit: int = 0x7FFFFFFF) -> int:
        """An unsigned varint (LEB128, 7 bits a byte, low first), as Kafka's flexible
        versions write lengths, counts and tags: at most 5 bytes (an int32's worth, as
        Kafka's own reader allows) and at most ``limit``, else ``ProtocolError``."""
        value = 0
        for i in range(5):
            byte = self.u8()
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if value > limit:
                    raise ProtocolError(f"varint {value} over {limit} at {self.pos}")
                return value
        raise ProtocolError(f"varint longer than 5 bytes at {self.pos}")

    def count(self, each: int, limit: int) -> int:
        """An element count read as int32, checked against what could follow it (each
        element takes at least ``each`` bytes) and ``limit``; -1 (null) is 0."""
        n = self.i32()
        if n == -1:
            return 0
        if n < 0 or n > limit or n * each > self.left:
            raise Truncated(f"count {n} at {self.pos - 4} does not fit")
        return n
