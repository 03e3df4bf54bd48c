"""SQLite backend: WAL, one writer thread fed by a queue, read-only connections for reads.

Every observation is appended (history is never overwritten); ``latest`` is moved to
the newest observation per (ip, port, transport) in the same transaction, so search
sees a consistent view. Writes are committed in small batches: a crash loses at most
the batch in flight, never a committed record.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from netatlas.model import Observation, Scan
from netatlas.query import compile_sqlite, facet_sql, ip_to_bin, parse
from netatlas.query.sqlite_functions import register_functions
from netatlas.store.base import FacetValue

BATCH_ROWS = 200
QUERY_TIME_LIMIT = 20.0  # seconds; every user-driven query is bounded

_SELECT_LATEST = "SELECT o.record, o.data FROM observations o WHERE o.is_latest = 1 AND "
# Partial indexes over the latest rows only. The NOCASE ones match how the query
# language compares strings, so `product:nginx` can seek.
_LATEST_INDEXES = (
    "CREATE INDEX IF NOT EXISTS latest_ts ON observations (ts) WHERE is_latest = 1",
    "CREATE INDEX IF NOT EXISTS latest_port ON observations (port, ts) WHERE is_latest = 1",
    "CREATE INDEX IF NOT EXISTS latest_service ON observations (service COLLATE NOCASE)"
    " WHERE is_latest = 1",
    "CREATE INDEX IF NOT EXISTS latest_product ON observations (product COLLATE NOCASE,"
    " version) WHERE is_latest = 1",
    "CREATE INDEX IF NOT EXISTS latest_ip ON observations (ip_bin, port) WHERE is_latest = 1",
)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store file made by an older netatlas up to this schema."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(observations)")}
    if "is_latest" not in columns:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ALTER TABLE observations ADD COLUMN is_latest INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE observations SET is_latest = 1"
                     " WHERE id IN (SELECT obs_id FROM latest)")
        conn.execute("COMMIT")
    for sql in _LATEST_INDEXES:
        conn.execute(sql)


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class _Stop:
    pass


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        conn = self._connect(readonly=False)
        conn.executescript(resources.files("netatlas.store").joinpath("schema.sql").read_text())
        _migrate(conn)
        conn.close()
        self._queue: queue.Queue[Callable[[sqlite3.Connection], None] | _Stop] = queue.Queue(
            maxsize=10_000
        )
        self._error: BaseException | None = None
        self._writer = threading.Thread(
            target=self._write_loop, name="netatlas-writer", daemon=True
        )
        self._writer.start()
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------
    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            uri = f"file:{Path(self.path).resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
        else:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        register_functions(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
        return conn

    # -- the writer ------------------------------------------------------------------
    def _write_loop(self) -> None:
        conn = self._connect(readonly=False)
        pending = 0
        try:
            while True:
                job = self._queue.get()
                if isinstance(job, _Stop):
                    if pending:
                        conn.execute("COMMIT")
                    self._queue.task_done()
                    return
                if not pending:
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    job(conn)
                except Exception as exc:  # keep the writer alive; surface on flush()
                    self._error = exc
                pending += 1
                # Batches form by themselves under load; an idle queue commits at once.
                if pending >= BATCH_ROWS or self._queue.empty():
                    conn.execute("COMMIT")
                    pending = 0
                self._queue.task_done()
        finally:
            conn.close()

    def _submit(self, job: Callable[[sqlite3.Connection], None]) -> None:
        if not self._writer.is_alive():
            raise RuntimeError("store writer has stopped")
        self._queue.put(job)

    def flush(self) -> None:
        """Block until every queued write is committed."""
        self._queue.join()
        if self._error is not None:
            err, self._error = self._error, None
            raise RuntimeError(f"store write failed: {err}") from err

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(_Stop())
            self._writer.join()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ----------------------------------------------------------------------
    def begin_scan(self, scan: Scan) -> None:
        row = (
            scan.id, _ts(scan.started), _ts(scan.finished), scan.status,
            json.dumps(scan.args, sort_keys=True), scan.done, scan.total,
            scan.open_ports, scan.observations,
        )
        self._submit(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO scans (id, started, finished, status, args, done, total,"
                " open_ports, observations) VALUES (?,?,?,?,?,?,?,?,?)",
                row,
            )
        )

    def update_scan(self, scan: Scan) -> None:
        row = (
            _ts(scan.finished), scan.status, json.dumps(scan.args, sort_keys=True), scan.done,
            scan.total, scan.open_ports, scan.observations, scan.id,
        )
        self._submit(
            lambda c: c.execute(
                "UPDATE scans SET finished=?, status=?, args=?, done=?, total=?, open_ports=?,"
                " observations=? WHERE id=?",
                row,
            )
        )

    def add(self, obs: Observation) -> None:
        record = obs.to_record()
        ip_bin = ip_to_bin(obs.ip)
        title = (record.get("http") or {}).get("title")
        row = (
            obs.scan_id, obs.ip, ip_bin, obs.port, obs.transport, obs.timestamp.timestamp(),
            obs.status, obs.service, obs.product, obs.version, title, obs.data,
            json.dumps(record, ensure_ascii=False, default=str),
        )
        fts_text = (record["data"], title or "", obs.product or "")

        def write(c: sqlite3.Connection) -> None:
            cur = c.execute(
                "INSERT INTO observations (scan_id, ip, ip_bin, port, transport, ts, status,"
                " service, product, version, title, data, record)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            obs_id = cur.lastrowid
            c.execute(
                "INSERT INTO obs_fts (rowid, data, title, product) VALUES (?,?,?,?)",
                (obs_id, *fts_text),
            )
            # Only move `latest` forward in time: an older observation imported late
            # must not hide a newer one.
            key = (ip_bin, obs.port, obs.transport)
            c.execute(
                "INSERT INTO latest (ip_bin, port, transport, obs_id) VALUES (?,?,?,?)"
                " ON CONFLICT (ip_bin, port, transport) DO UPDATE SET obs_id = excluded.obs_id"
                " WHERE (SELECT ts FROM observations WHERE id = latest.obs_id) <= ?",
                (*key, obs_id, row[5]),
            )
            # mirror `latest` in observations.is_latest (same transaction)
            (now_latest,) = c.execute(
                "SELECT obs_id FROM latest WHERE ip_bin = ? AND port = ? AND transport = ?", key
            ).fetchone()
            if now_latest == obs_id:
                c.execute(
                    "UPDATE observations SET is_latest = (id = ?) WHERE ip_bin = ? AND port = ?"
                    " AND transport = ? AND (is_latest = 1 OR id = ?)",
                    (obs_id, *key, obs_id),
                )

        self._submit(write)

    # -- reads -----------------------------------------------------------------------
    def _execute(self, sql: str, params: list[Any] | tuple[Any, ...]) -> sqlite3.Cursor:
        """Run a read with a time limit (reset per batch by streaming readers)."""
        conn = self._reader()
        self._local.deadline = time.monotonic() + QUERY_TIME_LIMIT
        conn.set_progress_handler(
            lambda: int(time.monotonic() > self._local.deadline), 10_000
        )
        try:
            return conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise TimeoutError(f"query took longer than {QUERY_TIME_LIMIT:.0f}s") from exc
            raise

    @staticmethod
    def _row_record(row: tuple[str, bytes]) -> dict[str, Any]:
        return json.loads(row[0])

    def _where(self, query: str) -> tuple[str, list[Any]]:
        where = compile_sqlite(parse(query))
        return where.sql, list(where.params)

    def search(self, query: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        sql, params = self._where(query)
        cur = self._execute(
            _SELECT_LATEST + sql + " ORDER BY o.ts DESC, o.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [self._row_record(r) for r in cur.fetchall()]

    def iter_search(self, query: str) -> Iterator[dict[str, Any]]:
        sql, params = self._where(query)
        cur = self._execute(_SELECT_LATEST + sql + " ORDER BY o.ip_bin, o.port", params)
        while True:
            # an export may stream for minutes: the time limit bounds each batch
            self._local.deadline = time.monotonic() + QUERY_TIME_LIMIT
            rows = cur.fetchmany(500)
            if not rows:
                return
            for r in rows:
                yield self._row_record(r)

    def count(self, query: str) -> int:
        sql, params = self._where(query)
        cur = self._execute(
            "SELECT count(*) FROM observations o WHERE o.is_latest = 1 AND " + sql,
            params,
        )
        return int(cur.fetchone()[0])

    def facets(
        self, query: str, names: list[str], size: int = 10
    ) -> dict[str, list[FacetValue]]:
        sql, params = self._where(query)
        out: dict[str, list[FacetValue]] = {}
        for name in names:
            facet = facet_sql(name)
            join = f", {facet.join}" if facet.join else ""
            cur = self._execute(
                f"SELECT {facet.expr} AS value, count(*) AS n"
                f" FROM observations o{join}"
                f" WHERE o.is_latest = 1 AND ({sql}) AND value IS NOT NULL"
                " GROUP BY value ORDER BY n DESC, value LIMIT ?",
                [*params, size],
            )
            out[name] = [FacetValue(v, n) for v, n in cur.fetchall()]
        return out

    def host(self, ip: str, history: bool = True) -> list[dict[str, Any]]:
        """Every observation of one host, newest first (only the latest per port
        unless ``history``)."""
        ip_bin = ip_to_bin(ip)
        if history:
            sql = (
                "SELECT o.record, o.data FROM observations o WHERE o.ip_bin = ?"
                " ORDER BY o.ts DESC, o.id DESC"
            )
        else:
            sql = (
                "SELECT o.record, o.data FROM observations o"
                " WHERE o.is_latest = 1 AND o.ip_bin = ? ORDER BY o.ts DESC"
            )
        return [self._row_record(r) for r in self._execute(sql, [ip_bin]).fetchall()]

    def get_scan(self, scan_id: str) -> Scan | None:
        cur = self._execute(
            "SELECT id, started, finished, status, args, done, total, open_ports, observations"
            " FROM scans WHERE id = ?",
            [scan_id],
        )
        row = cur.fetchone()
        return self._scan(row) if row else None

    def scans(self) -> list[Scan]:
        cur = self._execute(
            "SELECT id, started, finished, status, args, done, total, open_ports, observations"
            " FROM scans ORDER BY started DESC",
            [],
        )
        return [self._scan(r) for r in cur.fetchall()]

    @staticmethod
    def _scan(row: tuple[Any, ...]) -> Scan:
        return Scan(
            id=row[0],
            started=_dt(row[1]) or datetime.now(UTC),
            finished=_dt(row[2]),
            status=row[3],
            args=json.loads(row[4]),
            done=row[5],
            total=row[6],
            open_ports=row[7],
            observations=row[8],
        )
