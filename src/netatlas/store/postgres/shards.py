"""The shard table (``store/shards.py``) on PostgreSQL: reads and write transactions on
the store's pooled connections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from netatlas.store.shards import Execute, ShardTables

from .monitors import _pg

if TYPE_CHECKING:
    from .store import PostgresStore

T = TypeVar("T")


class PostgresShards(ShardTables):
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._store._fetch(_pg(sql), list(params))

    def _write(self, fn: Callable[[Execute], T]) -> T:
        with self._store._conn() as conn, conn.transaction():
            return fn(lambda sql, params: conn.execute(_pg(sql), list(params)))

    def _lock_scan(self, ex: Execute, scan_id: str) -> None:
        ex("SELECT pg_advisory_xact_lock(hashtext(?))", (scan_id,))

    def observed(self, scan_id: str, ip: str, port: int, transport: str) -> bool:
        # obs_endpoint (ip, port, transport, ts) finds the endpoint's rows
        rows = self._store._fetch(
            "SELECT 1 FROM observations WHERE ip = %s::inet AND port = %s AND transport = %s"
            " AND scan_id = %s LIMIT 1", [ip, port, transport, scan_id])
        return bool(rows)
