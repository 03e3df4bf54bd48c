"""Cluster fixtures: a real redis-server and real Celery workers (``netatlas cluster
up``) over the session's throwaway PostgreSQL, and plain listeners on 127.21.x.y that
record who connected. Everything started here is stopped by PID."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from netatlas.cluster.local import LocalCluster
from netatlas.lab.pgserver import TempPostgres
from netatlas.lab.redisserver import TempRedis

WORKER_ALLOW = "127.21.0.0/16"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with TempRedis(base_dir=tmp_path) as r:
        yield r.url


class Listeners:
    """TCP listeners that accept, say one line, hang up, and remember each peer."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        self.peers: list[str] = []
        self._socks = []
        for ip, port in endpoints:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
            s.listen(256)
            s.settimeout(0.2)
            self._socks.append(s)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve, args=(s,), daemon=True)
                         for s in self._socks]
        for t in self._threads:
            t.start()

    def _serve(self, s: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = s.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.peers.append(peer[0])
            with contextlib.suppress(OSError):
                conn.sendall(b"220 netatlas-test ready\r\n")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for s in self._socks:
            s.close()


@pytest.fixture
def listeners() -> Iterator[type[Listeners]]:
    made: list[Listeners] = []

    def make(endpoints: list[tuple[str, int]]) -> Listeners:
        li = Listeners(endpoints)
        made.append(li)
        return li

    yield make  # type: ignore[misc]
    for li in made:
        li.close()


@pytest.fixture(scope="module")
def cluster(pg_server: TempPostgres, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, object]]:
    """3 workers scanning from 127.21.0.1-3, allowed 127.21.0.0/16; a fresh database."""
    db = pg_server.create_database(f"cluster_{uuid.uuid4().hex[:12]}")
    c = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        state = c.up(3, [WORKER_ALLOW], db=db, lease_ttl=2.0)
        yield {**state, "local": c}
    finally:
        c.down()
