"""Observations encoded for a store's writer in worker processes, for bulk adds.

A store writes with one thread and encodes each row (``rows.to_row``: the record split,
shared values hashed, facet pairs, the banner compressed) in the thread that adds it. In
one process the two take turns on the GIL: the writer's ``executemany`` binds every row
under it, so while the caller encodes, the writer waits. Measured at 100k observations
(bench History): 20.1 s of CPU in 20.6 s of wall time, one core, 4,849 obs/s. A bulk
add (an import, a store copy) hands the encoding to worker processes instead, and the
writer's process is left with the writing.

``Encoders.map`` keeps the order of its input and raises what encoding raised, at the
observation that raised it, after yielding the rows before it (as encoding in the
caller's thread would). Workers are started on first use, as fresh interpreters (the
store's process has threads: no fork) and stopped by ``close``; a worker whose parent is
gone exits at the end of its pipe.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from netatlas.model import Observation

T = TypeVar("T")
CHUNK = 512  # observations per message: pickling one list, not one object at a time
IN_FLIGHT = 4  # chunks sent per worker and not yet received back: bounded memory
# Below this many observations in one add, encoding in the caller is cheaper than
# handing it over (a worker takes about half a second to start).
BULK_MIN = 4 * CHUNK
# One worker per spare core (the writer keeps one); at least one.
WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic collector off while a chunk is (un)pickled and encoded: that allocates
    tens of thousands of containers, and each 700 of them start a collection that walks
    the process's young objects again (in the caller, the writer's queue and batch among
    them), for no garbage: rows and observations hold no cycles. Unpickling 20k rows:
    24 -> 7 us a row; 20k observations: 9 -> 2 us."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _work(encode: Callable[[Observation], Any], inbox: Connection, outbox: Connection) -> None:
    """A worker: chunks of observations in, chunks of encoded rows out, until EOF."""
    while True:
        try:
            data = inbox.recv_bytes()
        except EOFError:
            return
        if not data:
            return
        with _collector_paused():
            message = _encoded(encode, data)
        outbox.send_bytes(message)


def _encoded(encode: Callable[[Observation], Any], data: bytes) -> bytes:
    """One chunk of pickled observations in, its pickled rows (and error) out."""
    out: list[Any] = []
    error: BaseException | None = None
    for obs in pickle.loads(data):
        try:
            out.append(encode(obs))
        except Exception as exc:  # sent back; the parent raises it
            error = exc
            break
    try:
        return pickle.dumps((out, error), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an exception that does not pickle
        return pickle.dumps((out, RuntimeError(repr(exc))))


class Encoders(Generic[T]):
    """Worker processes running ``encode`` (a module-level function) over observations."""

    def __init__(self, encode: Callable[[Observation], T], workers: int = WORKERS) -> None:
        self._encode = encode
        self._count = max(1, workers)
        self._conns: list[_Pipe] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()  # one map at a time: chunks come back in order

    def _start(self) -> None:
        # A fresh interpreter running this module (not multiprocessing's spawn, which
        # imports the caller's __main__ again: a script without a __main__ guard would
        # run twice); it finds ``encode`` by name, and speaks over two pipes of its own.
        target = f"{self._encode.__module__}:{self._encode.__qualname__}"
        for _ in range(self._count):
            down_r, down_w = os.pipe()
            up_r, up_w = os.pipe()
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__, target, str(down_r), str(up_w)],
                pass_fds=(down_r, up_w), stdin=subprocess.DEVNULL, close_fds=True)
            os.close(down_r)
            os.close(up_w)
            self._conns.append(_Pipe(up_r, down_w))
            self._procs.append(proc)

    def map(self, observations: Iterable[Observation]) -> Iterator[T]:
        """Each observation encoded, in order."""
        with self._lock:
            if not self._conns:
                self._start()
            yield from self._map(iter(observations))

    def _map(self, it: Iterator[Observation]) -> Iterator[T]:
        slots = threading.Semaphore(IN_FLIGHT * len(self._conns))
        order: queue.Queue[int | BaseException | None] = queue.Queue()
        stop = threading.Event()

        def feed() -> None:  # sends while the caller receives: neither pipe fills up
            k = 0

            def send(chunk: list[Observation]) -> bool:
                nonlocal k
                slots.acquire()
                if stop.is_set():
                    return False
                order.put(k)
                self._conns[k].send_bytes(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
                k = (k + 1) % len(self._conns)
                return True

            chunk: list[Observation] = []
            failed: BaseException | None = None
            try:
                try:
                    for obs in it:
                        chunk.append(obs)
                        if len(chunk) == CHUNK:
                            if not send(chunk):
                                return
                            chunk = []
                except BaseException as exc:  # the caller's iterator failed: raise it there,
                    failed = exc  # after what it gave before (as encoding inline would)
                if chunk and not send(chunk):
                    return
                order.put(failed)
            except BaseException as exc:  # a worker's pipe failed
                order.put(exc)

        feeder = threading.Thread(target=feed, name="netatlas-encoder-feed", daemon=True)
        feeder.start()
        try:
            while (k := order.get()) is not None:
                if isinstance(k, BaseException):
                    raise k
                try:
                    data = self._conns[k].recv_bytes()
                    with _collector_paused():
                        rows, error = pickle.loads(data)
                except EOFError:
                    raise RuntimeError("an encoder process stopped") from None
                slots.release()
                yield from rows
                if error is not None:
                    raise error
        except BaseException:
            self.close()  # chunks still in the workers would come back out of order
            raise
        finally:
            stop.set()
            slots.release()
            feeder.join(timeout=5)

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send_bytes(b"")
            conn.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._conns, self._procs = [], []


class _Pipe:
    """Both ends the parent holds for one worker: results in, chunks out."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._in = Connection(read_fd, writable=False)
        self._out = Connection(write_fd, readable=False)

    def send_bytes(self, data: bytes) -> None:
        self._out.send_bytes(data)

    def recv_bytes(self) -> bytes:
        return self._in.recv_bytes()

    def close(self) -> None:
        self._out.close()
        self._in.close()


def bulk(observations: Iterable[Observation], encode: Callable[[Observation], T],
         encoders: Callable[[], Encoders[T]]) -> Iterator[T]:
    """``observations`` encoded: in the caller when they are few, else by ``encoders()``
    (called only then, so a store starts its workers on its first bulk add)."""
    it = iter(observations)
    head = list(islice(it, BULK_MIN))
    if len(head) < BULK_MIN:
        return map(encode, head)
    return encoders().map(_chain(head, it))


def _chain(head: list[Observation], rest: Iterator[Observation]) -> Iterator[Observation]:
    yield from head
    yield from rest


def _main(argv: list[str]) -> None:
    target, inbox, outbox = argv
    module, _, name = target.partition(":")
    encode = getattr(importlib.import_module(module), name)
    _work(encode, Connection(int(inbox), writable=False), Connection(int(outbox), readable=False))


if __name__ == "__main__":
    _main(sys.argv[1:])
