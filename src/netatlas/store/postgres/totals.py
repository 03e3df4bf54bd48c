"""Running totals of the latest rows' column values (port, service, product, ...), kept
by the writer in the statement that moves the rows, so that a facet of those columns
over everything, or a count that reads one of them only (``service:http``,
``port:[1 TO 1024]``, ``-product:nginx``), reads a few hundred totals instead of
millions of rows — and is exact. At 10M observations ``count service:http`` counted
1.09M index entries in 145-226 ms; a facet over everything was sampled.

The column totals are the SQLite store's facet totals (store/sqlite/totals.py) cut down
to the columns: their values are the columns as stored, so a total is exactly what
counting the rows gives, NULL included (a NULL-safe NOT counts rows without a product).
"""

from __future__ import annotations

from typing import Any

import psycopg

from netatlas.query.fields import Column, facet_field
from netatlas.store.base import FacetValue
from netatlas.store.facetkeys import ROW_FACETS

# The latest columns that facets count (facetkeys.ROW_FACETS: port, transport, service,
# product, version, status, scan_id).
TOTALED: tuple[str, ...] = tuple(column for _, column in ROW_FACETS)
_INTEGER = frozenset({"port"})

# The writer's statement, after its CTEs `old` (the latest rows about to be replaced, as
# they were) and `moved` (the rows it wrote, as they are now): each moved row counts
# up, each replaced one down, one total per (column, value).
DELTA_CTES = f"""
delta AS (
  SELECT 1 AS d, {", ".join(f"m.{c}" for c in TOTALED)} FROM moved m
  UNION ALL
  SELECT -1, {", ".join(f"o.{c}" for c in TOTALED)} FROM old o
), counted AS (
  INSERT INTO column_totals AS t (field, value, n)
  SELECT field, value, n FROM ({" UNION ALL ".join(
      f"SELECT '{c}' AS field, {c}::text AS value, sum(d) AS n FROM delta GROUP BY {c}"
      for c in TOTALED)}) AS g
  WHERE n <> 0
  ON CONFLICT (field, value) DO UPDATE SET n = t.n + excluded.n
)"""
# (one hashed GROUP BY per column over the batch's few thousand moves: a third of the
# time of grouping (column, value) pairs unpivoted from every row)


def column_of(facet: str) -> str | None:
    """The totaled column a facet counts, if it counts one."""
    f = facet_field(facet)
    src = f.facet_source or f.source
    return src.name if isinstance(src, Column) and src.name in TOTALED else None


def count(conn: psycopg.Connection, column: str, where: str, params: list[Any]) -> int:
    """How many latest rows satisfy ``where`` (compiled over ``o.<column>`` alone): the
    same condition over one row per distinct value, each weighing its total."""
    value = "value::integer" if column in _INTEGER else "value"
    row = conn.execute(
        f"SELECT coalesce(sum(o.n), 0) FROM (SELECT {value} AS {column}, n"
        f" FROM column_totals WHERE field = %s AND n > 0) AS o WHERE {where}",
        [column, *params]).fetchone()
    return int(row[0]) if row else 0


def top(conn: psycopg.Connection, column: str, nocase: bool, size: int) -> list[FacetValue]:
    """The ``size`` largest totals of one column, ordered and grouped as the rows' facet
    query does (store/postgres/compile.py facet_sql): count down, then value; ``nocase``
    groups by lower() and shows the bytewise smallest spelling."""
    if column in _INTEGER:
        sql = ("SELECT value::integer AS v, n FROM column_totals"
               " WHERE field = %s AND n > 0 AND value IS NOT NULL ORDER BY n DESC, v LIMIT %s")
    elif nocase:
        sql = ('SELECT min(value COLLATE "C") AS v, sum(n) AS n FROM column_totals'
               " WHERE field = %s AND n > 0 AND value IS NOT NULL GROUP BY lower(value)"
               " ORDER BY n DESC, v LIMIT %s")
    else:
        sql = ("SELECT value AS v, n FROM column_totals WHERE field = %s AND n > 0"
               ' AND value IS NOT NULL ORDER BY n DESC, value COLLATE "C" LIMIT %s')
    return [FacetValue(v, int(n)) for v, n in conn.execute(sql, [column, size]).fetchall()]
