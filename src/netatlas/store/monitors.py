"""Monitors, their events, notifiers and deliveries: the tables continuous monitoring
persists (``netatlas.monitor`` gives them meaning). One implementation over both
backends: the SQL here is written once (``?`` placeholders, ``ON CONFLICT`` upserts and
``RETURNING``, which SQLite and PostgreSQL both speak); each backend supplies how a read
runs and how a write transaction runs (``sqlite/monitors.py``, ``postgres/monitors.py``).

Rows carry their details as JSON documents (``doc``); the columns are what is selected,
ordered or claimed on: a monitor's ``next_run`` and ``enabled``, an event's time, kind
and endpoint, a delivery's status and next attempt.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netatlas.store.execute import Execute

T = TypeVar("T")

DELIVERY_STATES = ("pending", "sent", "failed")  # failed = given up, kept visible


@dataclass(slots=True)
class MonitorRow:
    id: str
    name: str
    enabled: bool
    next_run: float  # unix seconds: when it is due
    doc: dict[str, Any] = field(default_factory=dict)  # the definition and last run


@dataclass(slots=True)
class EventRow:
    monitor_id: str
    ts: float
    kind: str
    ip: str
    port: int
    transport: str
    scan_id: str
    doc: dict[str, Any] = field(default_factory=dict)  # summary, details, triggers, record
    id: int = 0


@dataclass(slots=True)
class NotifierRow:
    id: str
    provider: str
    doc: dict[str, Any] = field(default_factory=dict)  # description, args, created


@dataclass(slots=True)
class DeliveryRow:
    id: int
    event_id: int
    notifier_id: str
    status: str
    attempts: int
    next_attempt: float
    created: float
    updated: float
    last_error: str | None = None


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)


_MONITOR = "id, name, enabled, next_run, doc"
_EVENT = "id, monitor_id, ts, kind, ip, port, transport, scan_id, doc"
_DELIVERY = ("id, event_id, notifier_id, status, attempts, next_attempt, created, updated,"
             " last_error")


def _monitor(r: Sequence[Any]) -> MonitorRow:
    return MonitorRow(r[0], r[1], bool(r[2]), float(r[3]), json.loads(r[4]))


def _event(r: Sequence[Any]) -> EventRow:
    return EventRow(r[1], float(r[2]), r[3], r[4], int(r[5]), r[6], r[7], json.loads(r[8]),
                    int(r[0]))


def _delivery(r: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), float(r[5]),
                       float(r[6]), float(r[7]), r[8])


class MonitorTables(ABC):
    """What a store offers as ``store.monitors``."""

    # A read that a write in the same transaction depends on locks its row (PostgreSQL);
    # SQLite's one writer already runs write transactions one at a time.
    _FOR_UPDATE = ""

    # -- what a backend supplies ------------------------------------------------------
    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one read (bounded by the store's query time limit)."""

    @abstractmethod
    def _write(self, fn: Callable[[Execute], T]) -> T:
        """Run ``fn(execute)`` in one write transaction; its result once committed."""

    # -- monitors ---------------------------------------------------------------------
    def put_monitor(self, row: MonitorRow) -> None:
        def write(ex: Execute) -> None:
            ex(f"INSERT INTO monitors ({_MONITOR}) VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
               " enabled = excluded.enabled, next_run = excluded.next_run,"
               " doc = excluded.doc",
               (row.id, row.name, int(row.enabled), row.next_run, _dump(row.doc)))
        self._write(write)

    def get_monitor(self, monitor_id: str) -> MonitorRow | None:
        rows = self._read(f"SELECT {_MONITOR} FROM monitors WHERE id = ?", (monitor_id,))
        return _monitor(rows[0]) if rows else None

    def list_monitors(self) -> list[MonitorRow]:
        return [_monitor(r) for r in self._read(
            f"SELECT {_MONITOR} FROM monitors ORDER BY name, id")]

    def delete_monitor(self, monitor_id: str) -> bool:
        """The monitor and its state; its events and their deliveries stay (history)."""
        def write(ex: Execute) -> bool:
            ex("DELETE FROM monitor_state WHERE monitor_id = ?", (monitor_id,))
            return ex("DELETE FROM monitors WHERE id = ?", (monitor_id,)).rowcount > 0
        return self._write(write)

    def due_monitors(self, now: float, limit: int = 100) -> list[MonitorRow]:
        return [_monitor(r) for r in self._read(
            f"SELECT {_MONITOR} FROM monitors WHERE enabled = 1 AND next_run <= ?"
            " ORDER BY next_run, id LIMIT ?", (now, limit))]

    def claim_monitor(self, monitor_id: str, due: float, next_run: float) -> bool:
        """Move a due monitor's ``next_run`` from ``due`` to ``next_run``: True for the
        one caller that did it (two schedulers never both run the same slot)."""
        def write(ex: Execute) -> bool:
            return ex("UPDATE monitors SET next_run = ? WHERE id = ? AND next_run = ?"
                      " AND enabled = 1", (next_run, monitor_id, due)).rowcount > 0
        return self._write(write)

    def get_state(self, monitor_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT state FROM monitor_state WHERE monitor_id = ?",
                          (monitor_id,))
        return json.loads(rows[0][0]) if rows else None

    def record_run(self, monitor_id: str, run: dict[str, Any], state: dict[str, Any] | None,
                   events: list[EventRow], notify: list[tuple[int, str]],
                   now: float) -> list[int]:
        """One run's outcome in one transaction: ``run`` (last run, error…) merged into
        the monitor's stored document — read in the same transaction, so an edit made
        while the run was in flight is kept — its new state, the events, and a pending
        delivery for each (index into ``events``, notifier id) of ``notify``. Returns
        the events' ids."""
        def write(ex: Execute) -> list[int]:
            row = ex(f"SELECT doc FROM monitors WHERE id = ?{self._FOR_UPDATE}",
                     (monitor_id,)).fetchone()
            if row is not None:  # deleted during the run: its events are still kept
                doc = {**json.loads(row[0]), **run}
                ex("UPDATE monitors SET doc = ? WHERE id = ?", (_dump(doc), monitor_id))
            if state is not None:
                ex("INSERT INTO monitor_state (monitor_id, state) VALUES (?, ?)"
                   " ON CONFLICT (monitor_id) DO UPDATE SET state = excluded.state",
                   (monitor_id, _dump(state)))
            ids = []
            for e in events:
                (eid,) = ex("INSERT INTO events (monitor_id, ts, kind, ip, port, transport,"
                            " scan_id, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                            (e.monitor_id, e.ts, e.kind, e.ip, e.port, e.transport,
                             e.scan_id, _dump(e.doc))).fetchone()
                e.id = int(eid)
                ids.append(e.id)
            for index, notifier_id in notify:
                ex("INSERT INTO deliveries (event_id, notifier_id, status, attempts,"
                   " next_attempt, created, updated) VALUES (?, ?, 'pending', 0, ?, ?, ?)",
                   (ids[index], notifier_id, now, now, now))
            return ids
        return self._write(write)

    # -- events -----------------------------------------------------------------------
    def events(self, since: float | None = None, monitor_id: str | None = None,
               kinds: Sequence[str] = (), ip: str | None = None, before_id: int | None = None,
               limit: int = 100) -> list[EventRow]:
        """Newest first."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if monitor_id:
            where.append("monitor_id = ?")
            params.append(monitor_id)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += list(kinds)
        if ip:
            where.append("ip = ?")
            params.append(ip)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        rows = self._read(f"SELECT {_EVENT} FROM events WHERE {' AND '.join(where)}"
                          " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_event(r) for r in rows]

    def get_event(self, event_id: int) -> EventRow | None:
        rows = self._read(f"SELECT {_EVENT} FROM events WHERE id = ?", (event_id,))
        return _event(rows[0]) if rows else None

    # -- notifiers --------------------------------------------------------------------
    def put_notifier(self, row: NotifierRow) -> None:
        def write(ex: Execute) -> None:
            ex("INSERT INTO notifiers (id, provider, doc) VALUES (?, ?, ?)"
               " ON CONFLICT (id) DO UPDATE SET provider = excluded.provider,"
               " doc = excluded.doc", (row.id, row.provider, _dump(row.doc)))
        self._write(write)

    def get_notifier(self, notifier_id: str) -> NotifierRow | None:
        rows = self._read("SELECT id, provider, doc FROM notifiers WHERE id = ?",
                          (notifier_id,))
        return NotifierRow(rows[0][0], rows[0][1], json.loads(rows[0][2])) if rows else None

    def list_notifiers(self) -> list[NotifierRow]:
        return [NotifierRow(r[0], r[1], json.loads(r[2])) for r in self._read(
            "SELECT id, provider, doc FROM notifiers ORDER BY id")]

    def delete_notifier(self, notifier_id: str) -> bool:
        def write(ex: Execute) -> bool:
            return ex("DELETE FROM notifiers WHERE id = ?", (notifier_id,)).rowcount > 0
        return self._write(write)

    # -- deliveries -------------------------------------------------------------------
    def due_deliveries(self, now: float, limit: int = 100) -> list[DeliveryRow]:
        return [_delivery(r) for r in self._read(
            f"SELECT {_DELIVERY} FROM deliveries WHERE status = 'pending'"
            " AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?", (now, limit))]

    def claim_delivery(self, delivery_id: int, next_attempt: float, lease_until: float) -> bool:
        """Take one due attempt: its next attempt moves to ``lease_until`` in one
        conditional update, so two senders on one store never make the same attempt
        (a sender that dies mid-attempt leaves it to be retried once the lease is over)."""
        def write(ex: Execute) -> bool:
            return ex("UPDATE deliveries SET next_attempt = ? WHERE id = ?"
                      " AND status = 'pending' AND next_attempt = ?",
                      (lease_until, delivery_id, next_attempt)).rowcount > 0
        return self._write(write)

    def next_delivery_time(self) -> float | None:
        rows = self._read("SELECT min(next_attempt) FROM deliveries WHERE status = 'pending'")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def update_delivery(self, delivery_id: int, status: str, attempts: int,
                        next_attempt: float, last_error: str | None, now: float) -> None:
        if status not in DELIVERY_STATES:
            raise ValueError(f"delivery status {status!r}")

        def write(ex: Execute) -> None:
            ex("UPDATE deliveries SET status = ?, attempts = ?, next_attempt = ?,"
               " last_error = ?, updated = ? WHERE id = ?",
               (status, attempts, next_attempt, last_error, now, delivery_id))
        self._write(write)

    def deliveries(self, status: str | None = None, event_id: int | None = None,
                   limit: int = 100) -> list[DeliveryRow]:
        """Newest first."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        if event_id is not None:
            where.append("event_id = ?")
            params.append(event_id)
        return [_delivery(r) for r in self._read(
            f"SELECT {_DELIVERY} FROM deliveries WHERE {' AND '.join(where)}"
            " ORDER BY id DESC LIMIT ?", (*params, limit))]


# The tables, for each backend's migration: (SQLite, PostgreSQL) column types differ in
# the id column only.
def tables_sql(postgres: bool) -> str:
    ident = ("bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if postgres
             else "INTEGER PRIMARY KEY")
    real = "double precision" if postgres else "REAL"
    return f"""
CREATE TABLE monitors (
  id text PRIMARY KEY, name text NOT NULL, enabled integer NOT NULL,
  next_run {real} NOT NULL,             -- unix seconds: when it is next due
  doc text NOT NULL                      -- JSON: definition, triggers, notifiers, last run
);
CREATE INDEX monitors_due ON monitors (next_run) WHERE enabled = 1;
CREATE TABLE monitor_state (
  monitor_id text PRIMARY KEY,
  state text NOT NULL                    -- JSON: what each endpoint was at the last run
);
CREATE TABLE events (
  id {ident}, monitor_id text NOT NULL, ts {real} NOT NULL, kind text NOT NULL,
  ip text NOT NULL, port integer NOT NULL, transport text NOT NULL, scan_id text NOT NULL,
  doc text NOT NULL                      -- JSON: summary, details, triggers, the record
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_monitor ON events (monitor_id, id);
CREATE INDEX events_ip ON events (ip, id);
CREATE TABLE notifiers (id text PRIMARY KEY, provider text NOT NULL, doc text NOT NULL);
CREATE TABLE deliveries (
  id {ident}, event_id bigint NOT NULL, notifier_id text NOT NULL,
  status text NOT NULL,                  -- pending | sent | failed (given up)
  attempts integer NOT NULL, next_attempt {real} NOT NULL,
  created {real} NOT NULL, updated {real} NOT NULL, last_error text
);
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_id);
"""


def monitor_tables(store: Any) -> MonitorTables:
    """The monitoring tables of an open store (one object per store, made on first use)."""
    tables = getattr(store, "_monitor_tables", None)
    if tables is None:
        from netatlas.store.sqlite import SQLiteStore

        if isinstance(store, SQLiteStore):
            from netatlas.store.sqlite.monitors import SQLiteMonitors

            tables = SQLiteMonitors(store)
        else:
            from netatlas.store.postgres.monitors import PostgresMonitors

            tables = PostgresMonitors(store)
        store._monitor_tables = tables
    return tables
