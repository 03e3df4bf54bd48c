"""Running facet totals over the latest rows, kept by the writer in the same transaction
as the rows themselves, so a facet over everything reads a few hundred totals instead
of millions of rows, and is exact.

Each latest row's facet values are kept beside it (``latest_facets``, as
``facetkeys.facet_pairs``); when a newer observation takes its place, the old row's
values are counted down and the new row's up, and the old row's copy is dropped. They
live in a table of their own, not in the observation's row: dropping them from the row
left a hole in its page that appended rows never fill (about 200 bytes an observation),
and history rows, which never count, hold nothing.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

from netatlas.store.base import FacetValue
from netatlas.store.facetkeys import (
    COUNTED,
    LAYOUT,
    ROW_FACETS,
    ascii_fold,
    facet_pairs,
    pairs_json,
)
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
PAIRS_TABLE = """
CREATE TABLE IF NOT EXISTS latest_facets (
  id    INTEGER PRIMARY KEY,           -- observations.id of a latest row
  pairs TEXT NOT NULL                  -- facetkeys.pairs_json (or packed: dictpack.py)
)
"""
_HOT = "o.ip, o.port, o.transport, o.ts, o.scan_id, o.status, o.service, o.product, o.version"


def apply(conn: sqlite3.Connection, up: Counter[tuple[int, Any]],
          down: Counter[tuple[int, Any]] | None = None) -> None:
    """Add ``up`` and take ``down`` from the totals (counters of facet pairs)."""
    if down:
        up.subtract(down)  # over distinct pairs only: a few thousand a batch
    changed = [(COUNTED[i], v, n) for (i, v), n in up.items() if n]
    conn.executemany("INSERT INTO facet_totals (field, value, n) VALUES (?, ?, ?)"
                     " ON CONFLICT (field, value) DO UPDATE SET n = n + excluded.n", changed)
    conn.executemany("DELETE FROM facet_totals WHERE field = ? AND value = ? AND n <= 0",
                     [(f, v) for f, v, n in changed if n < 0])


def rebuild(conn: sqlite3.Connection, resolve: Callable[[str], Any]) -> None:
    """Recompute every latest row's facet values and the totals from the records (a
    store from before totals, or one that counted other facets)."""
    conn.execute(PAIRS_TABLE)
    conn.execute("DELETE FROM facet_totals")
    conn.execute("DELETE FROM latest_facets")
    cur = conn.execute(f"SELECT o.id, o.record, {_HOT} FROM observations o"
                       " WHERE o.is_latest = 1 ORDER BY o.id")
    deltas: Counter[tuple[int, Any]] = Counter()
    while rows := cur.fetchmany(2000):
        pairs = []
        for oid, record, *hot in rows:
            rec = publish(load_record(record), tuple(hot), b"", resolve)
            values = facet_pairs(rec)
            deltas.update(values)
            pairs.append((oid, pairs_json(values)))
        conn.executemany("INSERT INTO latest_facets (id, pairs) VALUES (?, ?)", pairs)
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



# The facet that counts each column (scan_id's is "scan").
_FACET_OF = {column: COUNTED[i] for i, column in ROW_FACETS}


def count(conn: sqlite3.Connection, column: str, where: str, params: list[Any]) -> int:
    """How many latest rows satisfy ``where`` (compiled over ``o.<column>`` alone): the
    same condition over one row per distinct value, each weighing its total. Rows
    without a value (no product) weigh what the column's totals leave of all latest
    rows (every row has a transport), so a NULL-safe NOT counts them as the rows do."""
    sql = (f"SELECT coalesce(sum(o.n), 0) FROM ("
           f"SELECT value AS {column}, n FROM facet_totals WHERE field = ? AND n > 0"
           " UNION ALL SELECT NULL,"
           " (SELECT coalesce(sum(n), 0) FROM facet_totals WHERE field = 'transport')"
           " - (SELECT coalesce(sum(n), 0) FROM facet_totals WHERE field = ?)"
           f") AS o WHERE {where}")
    name = _FACET_OF[column]
    return int(conn.execute(sql, [name, name, *params]).fetchone()[0])
