"""Deliveries are sent beside the schedule: a receiver that accepts and never answers
holds one delivery slot, not the daemon, and two senders on one store make each attempt
once. The receiver is a real listening socket on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from netatlas.monitor import Monitor
from netatlas.monitor import service as svc
from netatlas.monitor.daemon import Daemon
from netatlas.monitor.notify.deliver import Sender
from netatlas.store import Store
from netatlas.store.monitors import EventRow, NotifierRow, monitor_tables


class Silent:
    """Accepts connections and never answers; counts them and tells which are open."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def still_open(self, conn: socket.socket) -> bool:
        """The client has not closed its side (a peek would read b"" if it had)."""
        conn.setblocking(False)
        try:
            return conn.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    yield s
    s.close()


def _pending_delivery(store: Store, port: int) -> None:
    t = monitor_tables(store)
    t.put_notifier(NotifierRow("n1", "webhook",
                               {"args": {"url": f"http://127.0.0.1:{port}/hook"}}))
    m = svc.save(store, Monitor(name="m", targets=["127.20.12.30"], allow=["127.20.12.0/24"],
                                ports="8080", every=60.0, next_run=1e12))
    now = time.time()
    t.record_run(m.id, {}, {}, [EventRow(m.id, now, "appeared", "127.20.12.30", 8080, "tcp",
                                         "scan-1", {"summary": "appeared"})],
                 [(0, "n1")], now=now)


async def _wait(cond: object, rounds: int = 500) -> None:
    for _ in range(rounds):  # a hang guard, not a timing claim
        if callable(cond) and cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_silent_receiver_never_holds_up_the_daemon(store: Store, silent: Silent) -> None:
    _pending_delivery(store, silent.port)
    daemon = Daemon(store)
    await daemon.step()  # returns with the attempt under way, not after it
    await _wait(lambda: len(silent.conns) == 1)
    assert daemon.sender is not None and daemon.sender.in_flight == 1
    assert silent.still_open(silent.conns[0])  # the receiver still holds the request
    m = svc.save(store, Monitor(name="due", targets=["127.20.12.31"],
                                allow=["127.20.12.0/24"], ports="8080", every=60.0,
                                next_run=1.0))
    assert daemon.start_due() == 1  # the schedule goes on meanwhile
    assert m.id in daemon._in_flight
    silent.close()  # the attempt fails now; it stays pending with its error, for later
    await daemon.drain()
    [d] = monitor_tables(store).deliveries()
    assert (d.status, d.attempts) == ("pending", 1) and d.last_error


async def test_two_senders_make_each_attempt_once(store: Store, silent: Silent) -> None:
    _pending_delivery(store, silent.port)
    first, second = Sender(store), Sender(store)
    assert first.step() == 1
    assert second.step() == 0  # claimed by the first
    await _wait(lambda: len(silent.conns) == 1)
    silent.close()
    await first.drain()
    assert len(silent.conns) == 1
