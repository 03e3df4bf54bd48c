"""Streaming export: the store's cursor is walked in one dedicated thread (its SQLite
connection stays on that thread) and handed to the response in chunks, with
back-pressure; a client that goes away stops the walk."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from netatlas.cli.render import print_json_lines, write_csv

CHUNK = 64 * 1024
_DONE = object()


class _ChunkWriter:
    def __init__(self, put: Callable[[object], None]) -> None:
        self._put = put
        self._buf: list[str] = []
        self._size = 0

    def write(self, s: str) -> int:
        self._buf.append(s)
        self._size += len(s)
        if self._size >= CHUNK:
            self.flush()
        return len(s)

    def flush(self) -> None:
        if self._buf:
            self._put("".join(self._buf).encode("utf-8"))
            self._buf, self._size = [], 0


class _Stopped(Exception):
    pass


async def stream(records: Callable[[], Iterable[dict[str, Any]]], fmt: str,
                 first: bytes = b"") -> AsyncIterator[bytes]:
    """Chunks of the export. ``records`` is called on the worker thread."""
    q: queue.Queue[object] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.25)
                return
            except queue.Full:
                continue
        raise _Stopped

    def work() -> None:
        out = _ChunkWriter(put)
        try:
            if fmt == "csv":
                write_csv(records(), out)  # type: ignore[arg-type]
            else:
                print_json_lines(records(), out)  # type: ignore[arg-type]
            out.flush()
        except _Stopped:
            return
        except BaseException as exc:  # surfaces as a truncated stream with a marker
            try:
                put(exc)
            except _Stopped:
                return
        try:
            put(_DONE)
        except _Stopped:
            return

    thread = threading.Thread(target=work, name="netatlas-export", daemon=True)
    thread.start()
    try:
        if first:
            yield first
        while True:
            item = await asyncio.to_thread(q.get)
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                # headers are gone; say so in-band rather than end silently
                yield f"\n# export failed: {type(item).__name__}: {item}\n".encode()
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
