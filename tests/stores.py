"""The conformance fixtures: every store and query test runs against **both** backends,
SQLite (a file in tmp) and PostgreSQL (a fresh database on the session's throwaway
server, tests/pg.py), and must give the same records, counts, facets and errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netatlas.store import Store, open_store

BACKENDS = ("sqlite", "postgres")


def _new_store_url(backend: str, request: pytest.FixtureRequest, folder: Path
                   ) -> tuple[str, Callable[[], None]]:
    """(where an empty store lives, how to drop it afterwards)."""
    if backend == "sqlite":
        return str(folder / f"{uuid.uuid4().hex[:8]}.db"), lambda: None
    server = request.getfixturevalue("pg_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)

    def drop() -> None:
        if server.pid is None:  # a fault test left it down
            server.restart()
        server.drop_database(name)

    return url, drop


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store of each backend, by address (a file path or a postgresql:// URL),
    for tests that open, kill and reopen it."""
    url, drop = _new_store_url(request.param, request, tmp_path)
    yield url
    drop()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty, open store of each backend."""
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture(scope="session", params=BACKENDS)
def session_store_url(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """For session-wide data sets: one store of each backend."""
    url, drop = _new_store_url(request.param, request, tmp_path_factory.mktemp("stores"))
    yield url
    drop()
