"""The shards of a distributed scan: one row per (scan, shard) with its state, the
worker that holds it and its permutation watermark (``netatlas.cluster`` gives them
meaning). Workers on many machines write here, so only a shared store has them:
PostgreSQL (``postgres/shards.py``); a SQLite store has none (``shard_tables`` is None).

A shard's watermark moves only after the observations below it are committed (the
caller flushes the store first), so a shard re-run after its worker died resumes
there; ``observed`` tells the re-run which endpoints past it already have a record
of this scan, so none is stored twice.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from netatlas.store.execute import Execute

T = TypeVar("T")

# queued -> running -> finished | failed | refused (a worker's --allow said no);
# running again after its worker died (attempts counts the starts)
SHARD_STATES = ("queued", "running", "finished", "failed", "refused")
TERMINAL = frozenset({"finished", "failed", "refused"})


@dataclass(slots=True)
class ShardRow:
    scan_id: str
    shard: int
    count: int  # N: this is shard `shard` of `count`
    status: str = "queued"
    worker: str | None = None
    vantage: str | None = None  # the source address the worker scans from
    done: int = 0  # permutation watermark (shard-local positions)
    total: int = 0
    open_ports: int = 0
    observations: int = 0
    attempts: int = 0
    updated: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLS = ("scan_id, shard, count, status, worker, vantage, done, total, open_ports,"
         " observations, attempts, updated, error")
TABLE_SQL = """
CREATE TABLE scan_shards (
  scan_id      text NOT NULL,
  shard        integer NOT NULL,
  count        integer NOT NULL,
  status       text NOT NULL,             -- queued | running | finished | failed | refused
  worker       text,
  vantage      text,
  done         bigint NOT NULL DEFAULT 0, -- the shard's permutation watermark
  total        bigint NOT NULL DEFAULT 0,
  open_ports   bigint NOT NULL DEFAULT 0,
  observations bigint NOT NULL DEFAULT 0,
  attempts     integer NOT NULL DEFAULT 0,
  updated      double precision NOT NULL,
  error        text,
  PRIMARY KEY (scan_id, shard)
);
"""


def _row(r: Sequence[Any]) -> ShardRow:
    return ShardRow(r[0], int(r[1]), int(r[2]), r[3], r[4], r[5], int(r[6]), int(r[7]),
                    int(r[8]), int(r[9]), int(r[10]), float(r[11]), r[12])


class ShardTables(ABC):
    """What a shared store offers for distributed scans."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one read."""

    @abstractmethod
    def _write(self, fn: Callable[[Execute], T]) -> T:
        """Run ``fn(execute)`` in one write transaction; its result once committed."""

    @abstractmethod
    def observed(self, scan_id: str, ip: str, port: int, transport: str) -> bool:
        """Whether the store holds an observation of this endpoint made by this scan."""

    @abstractmethod
    def _lock_scan(self, ex: Execute, scan_id: str) -> None:
        """Serialize roll-ups of one scan until the transaction ends."""

    # -- the coordinator ------------------------------------------------------------------
    def create(self, rows: Sequence[ShardRow]) -> None:
        """The shards of a new scan, queued (again: nothing changes)."""
        now = time.time()

        def write(ex: Execute) -> None:
            for r in rows:
                ex(f"INSERT INTO scan_shards ({_COLS}) VALUES"
                   " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT (scan_id, shard) DO NOTHING",
                   (r.scan_id, r.shard, r.count, "queued", None, None, 0, r.total, 0, 0, 0,
                    now, None))
        self._write(write)

    def of_scan(self, scan_id: str) -> list[ShardRow]:
        return [_row(r) for r in self._read(
            f"SELECT {_COLS} FROM scan_shards WHERE scan_id = ? ORDER BY shard", (scan_id,))]

    def get(self, scan_id: str, shard: int) -> ShardRow | None:
        rows = self._read(f"SELECT {_COLS} FROM scan_shards WHERE scan_id = ? AND shard = ?",
                          (scan_id, shard))
        return _row(rows[0]) if rows else None

    def requeue(self, scan_id: str) -> list[ShardRow]:
        """Shards not finished go back to queued (a resumed scan); returns them."""
        def write(ex: Execute) -> None:
            ex("UPDATE scan_shards SET status = 'queued', error = NULL, updated = ?"
               " WHERE scan_id = ? AND status <> 'finished'", (time.time(), scan_id))
        self._write(write)
        return [r for r in self.of_scan(scan_id) if r.status == "queued"]

    # -- a worker -------------------------------------------------------------------------
    def start(self, scan_id: str, shard: int, worker: str, vantage: str | None) -> ShardRow:
        """A worker takes the shard: running, one more attempt; returns the row (its
        watermark and counters are where the run resumes)."""
        def write(ex: Execute) -> Any:
            return ex(f"UPDATE scan_shards SET status = 'running', worker = ?, vantage = ?,"
                      " attempts = attempts + 1, updated = ?, error = NULL"
                      f" WHERE scan_id = ? AND shard = ? RETURNING {_COLS}",
                      (worker, vantage, time.time(), scan_id, shard)).fetchone()
        row = self._write(write)
        if row is None:
            raise LookupError(f"scan {scan_id} has no shard {shard}")
        return _row(row)

    def progress(self, scan_id: str, shard: int, done: int, open_ports: int,
                 observations: int, status: str = "running", error: str | None = None) -> None:
        """Checkpoint: flush the store's writes first, so the watermark never passes a
        record not yet committed. A finished shard's row is not moved back."""
        def write(ex: Execute) -> None:
            ex("UPDATE scan_shards SET done = ?, open_ports = ?, observations = ?,"
               " status = ?, error = ?, updated = ?"
               " WHERE scan_id = ? AND shard = ? AND status <> 'finished'",
               (done, open_ports, observations, status, error, time.time(), scan_id, shard))
        self._write(write)

    def mark(self, scan_id: str, shard: int, status: str, worker: str | None,
             error: str | None) -> None:
        """A state without progress (refused by a worker's allow list)."""
        def write(ex: Execute) -> None:
            ex("UPDATE scan_shards SET status = ?, worker = ?, error = ?, updated = ?"
               " WHERE scan_id = ? AND shard = ? AND status <> 'finished'",
               (status, worker, error, time.time(), scan_id, shard))
        self._write(write)


    def rollup(self, scan_id: str) -> str:
        """The scan's own row from its shards' (sums of watermarks and counters; finished
        when every shard is, failed when every shard ended and one did not finish);
        returns that status. Any worker or follower may call it at any time: roll-ups
        of one scan take turns, so the last one sees every shard's last commit."""
        def write(ex: Execute) -> str:
            self._lock_scan(ex, scan_id)
            r = ex("SELECT count(*), coalesce(sum(done), 0), coalesce(sum(total), 0),"
                   " coalesce(sum(open_ports), 0), coalesce(sum(observations), 0),"
                   " coalesce(sum(CASE WHEN status = 'finished' THEN 1 ELSE 0 END), 0),"
                   " coalesce(sum(CASE WHEN status IN ('failed', 'refused') THEN 1 ELSE 0"
                   " END), 0) FROM scan_shards WHERE scan_id = ?", (scan_id,)).fetchone()
            n, done, total, open_ports, observations, finished, failed = (int(x) for x in r)
            if n and finished == n:
                status, ended = "finished", time.time()
            elif n and finished + failed == n:
                status, ended = "failed", time.time()
            else:
                status, ended = "running", None
            ex("UPDATE scans SET done = ?, total = ?, open_ports = ?, observations = ?,"
               " status = ?, finished = ? WHERE id = ?",
               (done, total, open_ports, observations, status, ended, scan_id))
            return status
        return self._write(write)


def shard_tables(store: Any) -> ShardTables | None:
    """The shard table of an open store, or None when the backend has none (SQLite)."""
    tables = getattr(store, "_shard_tables", None)
    if tables is None:
        from netatlas.store.postgres import PostgresStore

        if not isinstance(store, PostgresStore):
            return None
        from netatlas.store.postgres.shards import PostgresShards

        tables = PostgresShards(store)
        store._shard_tables = tables
    return tables
