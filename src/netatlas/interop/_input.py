"""Opening an input: a file or stdin (``-``), gzip / bz2 / xz recognised by their magic
bytes (not the file name), with the first bytes kept for format detection — and the
position in the compressed input for a progress bar."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
from dataclasses import dataclass
from typing import IO

SNIFF_BYTES = 64 * 1024
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))


# a readable byte stream: a file or stdin, or a decompressing reader over one
_Stream = IO[bytes] | io.BufferedIOBase


class _Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``rest``: bytes read for detection are not lost."""

    def __init__(self, prefix: bytes, rest: _Stream) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buf), len(self._prefix))
            buf[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buf))
        n = len(data)
        buf[:n] = data
        return n


def _read_up_to(stream: _Stream, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


@dataclass
class Input:
    """An opened input: ``stream`` yields the decompressed bytes from the start;
    ``head`` is their first bytes; ``size`` / ``position()`` are in raw (compressed)
    bytes, for progress (``size`` is None for stdin and pipes)."""

    name: str
    stream: IO[bytes]
    head: bytes
    compression: str | None
    size: int | None
    _raw: IO[bytes]

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        self.stream.close()
        if self._raw is not sys.stdin.buffer:
            self._raw.close()


def open_input(name: str) -> Input:
    """Open ``name`` (``-`` is stdin). Raises OSError / EOFError / lzma errors for an
    unreadable file or a damaged archive header."""
    raw: IO[bytes]
    if name == "-":
        raw = sys.stdin.buffer
        size = None
    else:
        raw = open(name, "rb")  # noqa: SIM115 - closed by Input.close
        try:
            st = os.fstat(raw.fileno())
            size = st.st_size if st.st_size > 0 else None
        except OSError:
            size = None
    magic = _read_up_to(raw, 6)
    compression = next((kind for m, kind in _MAGIC if magic.startswith(m)), None)
    head_raw = _Prefixed(magic, raw)
    inner: io.BufferedIOBase  # GzipFile, BZ2File, LZMAFile, BufferedReader
    # (each closed by Input.close)
    if compression == "gzip":
        inner = gzip.GzipFile(fileobj=io.BufferedReader(head_raw), mode="rb")
    elif compression == "bz2":
        inner = bz2.BZ2File(io.BufferedReader(head_raw), mode="rb")
    elif compression == "xz":
        inner = lzma.LZMAFile(io.BufferedReader(head_raw), mode="rb")  # noqa: SIM115
    else:
        inner = io.BufferedReader(head_raw)
    head = _read_up_to(inner, SNIFF_BYTES)
    stream = io.BufferedReader(_Prefixed(head, inner), buffer_size=1 << 20)
    return Input(name=name, stream=stream, head=head, compression=compression, size=size,
                 _raw=raw)
