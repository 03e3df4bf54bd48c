"""The monitoring tables (``store/monitors.py``) on SQLite: reads on the store's
read-only connections (time-limited), writes in its one writer, in order with the
observations queued before them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from netatlas.store.monitors import Execute, MonitorTables

if TYPE_CHECKING:
    from .store import SQLiteStore

T = TypeVar("T")


class SQLiteMonitors(MonitorTables):
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._store._execute(sql, list(params)).fetchall()

    def _write(self, fn: Callable[[Execute], T]) -> T:
        def run(conn: sqlite3.Connection) -> T:
            return fn(lambda sql, params: conn.execute(sql, tuple(params)))
        return self._store._call(run)
