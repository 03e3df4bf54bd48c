"""What the fronts (CLI, API, Shodan alert API, web) do with monitors, notifiers and
events — one place, so each front stays thin."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any

from netatlas import pipeline
from netatlas.store import Store
from netatlas.store.monitors import EventRow, NotifierRow, monitor_tables

from .changes import KINDS
from .model import Monitor
from .notify import check_args
from .triggers import check_trigger


class NotFound(LookupError):
    pass


def check(store: Store, monitor: Monitor) -> Monitor:
    """Refuse a monitor whose scope or triggers are wrong before it is stored: the same
    allow / deny rules as ``netatlas scan`` (ScopeError), known triggers, known
    notifiers."""
    if monitor.every <= 0:
        raise ValueError("--every must be positive")
    pipeline.plan_scan(monitor.scan_config())
    for name in monitor.triggers:
        check_trigger(name)
    tables = monitor_tables(store)
    for nid in monitor.notifiers:
        if tables.get_notifier(nid) is None:
            raise NotFound(f"no notifier {nid!r}")
    return monitor


def save(store: Store, monitor: Monitor) -> Monitor:
    monitor_tables(store).put_monitor(check(store, monitor).to_row())
    return monitor


def create(store: Store, monitor: Monitor, start: float | None = None) -> Monitor:
    """Store a new monitor, due at ``start`` (now by default: its first run is the
    daemon's next look)."""
    monitor.next_run = time.time() if start is None else start
    return save(store, monitor)


def get(store: Store, ref: str) -> Monitor:
    """A monitor by id, or by name when one has it."""
    tables = monitor_tables(store)
    row = tables.get_monitor(ref) or tables.get_monitor(ref.upper())
    if row is None:
        named = [r for r in tables.list_monitors() if r.name == ref]
        if len(named) == 1:
            row = named[0]
    if row is None:
        raise NotFound(f"no monitor {ref!r}")
    return Monitor.from_row(row)


def all_monitors(store: Store) -> list[Monitor]:
    return [Monitor.from_row(r) for r in monitor_tables(store).list_monitors()]


def delete(store: Store, ref: str) -> Monitor:
    monitor = get(store, ref)
    monitor_tables(store).delete_monitor(monitor.id)
    return monitor


def set_enabled(store: Store, ref: str, enabled: bool) -> Monitor:
    monitor = get(store, ref)
    monitor.enabled = enabled
    if enabled and monitor.next_run < time.time() - monitor.every:
        monitor.next_run = time.time()  # resumed after a long pause: one run now
    monitor_tables(store).put_monitor(monitor.to_row())
    return monitor


def add_notifier(store: Store, provider: str, args: dict[str, Any],
                 description: str = "") -> NotifierRow:
    row = NotifierRow(secrets.token_hex(8), provider,
                      {"args": check_args(provider, args), "description": description,
                       "created": time.time()})
    monitor_tables(store).put_notifier(row)
    return row


def _endpoint_clause(events: Iterable[EventRow]) -> str:
    pairs = sorted({(e.ip, e.port) for e in events})
    return " OR ".join(f'(ip:"{ip}" port:{port})' for ip, port in pairs)


def find_events(store: Store, since: float | None = None, query: str = "",
                monitor_id: str | None = None, kinds: Iterable[str] = (),
                ip: str | None = None, limit: int = 100) -> list[EventRow]:
    """Events newest first. ``query`` (the search language) keeps the events whose
    endpoint's latest record matches it, as `netatlas search` would match it."""
    kinds = list(kinds)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown event kind {k!r}; one of {', '.join(KINDS)}")
    tables = monitor_tables(store)
    if query.strip():
        from netatlas.query import parse

        parse(query)  # a bad query fails before anything is read
    out: list[EventRow] = []
    before: int | None = None
    while len(out) < limit:
        page = tables.events(since, monitor_id, kinds, ip, before, limit=500)
        if not page:
            break
        before = page[-1].id
        out += _matching(store, page, query) if query.strip() else page
        if len(page) < 500:
            break
    return out[:limit]


def _matching(store: Store, events: list[EventRow], query: str) -> list[EventRow]:
    keep: set[tuple[str, int]] = set()
    for chunk in _chunks(events, 50):
        q = f"({query}) ({_endpoint_clause(chunk)})"
        keep |= {(str(r["ip_str"]), int(r["port"])) for r in store.iter_search(q)}
    return [e for e in events if (e.ip, e.port) in keep]


def _chunks(events: list[EventRow], n: int) -> Iterator[list[EventRow]]:
    pairs: dict[tuple[str, int], list[EventRow]] = {}
    for e in events:
        pairs.setdefault((e.ip, e.port), []).append(e)
    keys = list(pairs)
    for i in range(0, len(keys), n):
        yield [pairs[k][0] for k in keys[i:i + n]]


def event_dict(e: EventRow) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {"id": e.id, "timestamp": datetime.fromtimestamp(e.ts, UTC).isoformat(),
            "monitor_id": e.monitor_id, "monitor": e.doc.get("monitor"), "kind": e.kind,
            "ip_str": e.ip, "port": e.port, "transport": e.transport, "scan_id": e.scan_id,
            "summary": e.doc.get("summary"), "details": e.doc.get("details", {}),
            "triggers": e.doc.get("triggers", []), "record": e.doc.get("record")}
