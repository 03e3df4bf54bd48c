"""The monitoring tables (``store/monitors.py``) on PostgreSQL: reads and write
transactions on the store's pooled connections (each statement time-limited)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from netatlas.store.monitors import Execute, MonitorTables

if TYPE_CHECKING:
    from .store import PostgresStore

T = TypeVar("T")


def _pg(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's (the SQL holds no other ``?``
    and no ``%``)."""
    return sql.replace("?", "%s")


class PostgresMonitors(MonitorTables):
    _FOR_UPDATE = " FOR UPDATE"

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._store._fetch(_pg(sql), list(params))

    def _write(self, fn: Callable[[Execute], T]) -> T:
        with self._store._conn() as conn, conn.transaction():
            return fn(lambda sql, params: conn.execute(_pg(sql), list(params)))
