"""PostgreSQL fixtures: one throwaway server per test session, a fresh database per test.

    def test_something(pg_url: str) -> None:
        with psycopg.connect(pg_url) as conn: ...

``pg_server`` is the :class:`TempPostgres` itself (its ``create_database``, ``kill`` and
``restart``), for tests that need more than one database or a server that goes away.
Missing PostgreSQL binaries fail the tests rather than skip them: CI installs them
(scripts/install-system-deps.sh).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from netatlas.lab.pgserver import TempPostgres
from netatlas.lab.services import LabError


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TempPostgres]:
    server = TempPostgres()
    try:
        server.start()
        error = None
    except LabError as exc:
        error = str(exc)
    if error is not None:  # outside the except: the message alone, no chained traceback
        pytest.fail(f"cannot start a throwaway PostgreSQL server: {error}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: TempPostgres) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield pg_server.create_database(name)
    # A test that killed the server leaves it down for the next one: bring it back.
    if pg_server.pid is None:
        pg_server.restart()
    pg_server.drop_database(name)  # keeps a long session's cluster small
