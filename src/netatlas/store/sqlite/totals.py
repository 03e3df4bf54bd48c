"""Running facet totals over the latest rows, kept by the writer in the same transaction
as the rows themselves, so a facet over everything reads a few hundred totals instead
of millions of rows, and is exact.

Each latest row carries its facet values (``observations.facet_values``, see
``store/facetkeys.py``); when a newer observation takes its place, the old row's values
are counted down and the new row's up, and the old row's copy is dropped.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from netatlas.store.base import FacetValue
from netatlas.store.facetkeys import COUNTED, LAYOUT, ascii_fold, facet_values
from netatlas.store.rows import load_record, publish

META_KEY = "facet_totals_layout"
TABLE = """
CREATE TABLE IF NOT EXISTS facet_totals (
  field TEXT NOT NULL,
  value,                               -- no type: no affinity, kept as written
  n     INTEGER NOT NULL,              -- latest rows with this value
  PRIMARY KEY (field, value)
) WITHOUT ROWID
"""
_HOT = "o.ip, o.port, o.transport, o.ts, o.scan_id, o.status, o.service, o.product, o.version"


def count(deltas: Counter[tuple[str, Any]], values_json: str | None, step: int) -> None:
    # the writer runs this twice for most rows it stores: kept to plain loops
    if not values_json:
        return
    for name, value in zip(COUNTED, orjson.loads(values_json), strict=True):
        if value is None:
            continue
        if type(value) is list:
            for element in value:
                deltas[name, element] += step
        else:
            deltas[name, value] += step


def apply(conn: sqlite3.Connection, deltas: Counter[tuple[str, Any]]) -> None:
    changed = [(f, v, n) for (f, v), n in deltas.items() if n]
    conn.executemany("INSERT INTO facet_totals (field, value, n) VALUES (?, ?, ?)"
                     " ON CONFLICT (field, value) DO UPDATE SET n = n + excluded.n", changed)
    conn.executemany("DELETE FROM facet_totals WHERE field = ? AND value = ? AND n <= 0",
                     [(f, v) for f, v, n in changed if n < 0])


def rebuild(conn: sqlite3.Connection, resolve: Callable[[str], Any]) -> None:
    """Recompute every latest row's facet values and the totals from the records (a
    store from before totals, or one that counted other facets)."""
    conn.execute("DELETE FROM facet_totals")
    cur = conn.execute(f"SELECT o.id, o.record, {_HOT} FROM observations o"
                       " WHERE o.is_latest = 1 ORDER BY o.id")
    deltas: Counter[tuple[str, Any]] = Counter()
    while rows := cur.fetchmany(2000):
        updates = []
        for oid, record, *hot in rows:
            rec = publish(load_record(record), tuple(hot), b"", resolve)
            values = facet_values(rec)
            count(deltas, values, 1)
            updates.append((values, oid))
        conn.executemany("UPDATE observations SET facet_values = ? WHERE id = ?", updates)
    apply(conn, deltas)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_KEY, LAYOUT))


def current(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return bool(row) and row[0] == LAYOUT


def top(conn: sqlite3.Connection, name: str, nocase: bool, size: int) -> list[FacetValue]:
    """The ``size`` largest totals of one facet, as the row-counting query orders them
    (count down, then value); ``nocase`` groups spellings as NOCASE does and shows the
    smallest."""
    if not nocase:
        cur = conn.execute("SELECT value, n FROM facet_totals WHERE field = ? AND n > 0"
                           " ORDER BY n DESC, value LIMIT ?", (name, size))
        return [FacetValue(v, n) for v, n in cur.fetchall()]
    groups: dict[Any, list[Any]] = {}
    for value, n in conn.execute(
            "SELECT value, n FROM facet_totals WHERE field = ? AND n > 0", (name,)):
        group = groups.setdefault(ascii_fold(value), [value, 0])
        group[0] = min(group[0], value)
        group[1] += n
    ranked = sorted(groups.values(), key=lambda g: (-g[1], g[0]))
    return [FacetValue(v, n) for v, n in ranked[:size]]

