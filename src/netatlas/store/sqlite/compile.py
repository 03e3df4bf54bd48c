"""Query AST -> a parameterised SQLite WHERE fragment over alias ``o`` (observations).

Only constants from the field registry become SQL text; every value from the user
travels as a ``?`` parameter. NULL-safe negation: ``-product:x`` also matches rows
without a product, as a searcher expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netatlas.query import FIELDS, Field, Query, facet_field
from netatlas.query.ast import Node, Term, Text
from netatlas.query.fields import Column, Each, MaxNumber, NonEmpty
from netatlas.query.ipbin import ip_to_bin, network_bounds
from netatlas.query.versions import version_sort_key
from netatlas.store.rows import fts_words, shared_source
from netatlas.store.sqlparts import boolean_sql, leading_number, like_pattern, range_clause

from .fields import (
    SEVERITY_RANK,
    distinct_lists,
    elements,
    indexed_list,
    list_text,
    ref_at,
    scalar,
    version_key,
)

_SQL_OP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FTS = "o.id IN (SELECT rowid FROM obs_fts WHERE obs_fts MATCH ?)"
# The same test that SQLite may not drive the query from ('+' hides the column from the
# planner): for a frequent phrase, walking the newest rows and checking each against the
# matches stops after a page; seeking every match, then sorting, reads them all.
_FTS_CHECK = "+" + _FTS
# Whether a full-text query matches many rows (the store looks in its index).
Frequent = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class SqlWhere:
    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FacetSql:
    """``SELECT {expr} AS value, count(*) FROM observations o[, {join}] ... GROUP BY
    {group}``."""

    name: str
    expr: str
    group: str = "value"
    join: str | None = None
    present: str | None = None  # the per-row value that must not be NULL (else ``expr``)


def compile_where(q: Query, frequent: Frequent | None = None) -> SqlWhere:
    """``frequent`` tells phrases that match many rows (planned as a check, not a seek)."""
    if q.root is None:
        return SqlWhere("1", [])
    params: list[Any] = []
    return SqlWhere(_node(q.root, params, frequent), params)


def facet_sql(name: str) -> FacetSql:
    f = facet_field(name)
    src = f.facet_source or f.source
    if isinstance(src, Each):
        # one row per distinct element of each record, as a JSON array joined back
        join = f"json_each((SELECT json_group_array(DISTINCT value) FROM ({elements(src)})))" \
               " AS fj"
        return FacetSql(f.name, "fj.value", join=join)
    if src == Column("ip"):
        return FacetSql(f.name, "o.ip")
    expr = scalar(src)
    if f.facet_nocase:
        # group as search matches (case-insensitively) on the NOCASE index; show the
        # smallest spelling, as the PostgreSQL backend does
        return FacetSql(f.name, f"min({expr})", group=f"{expr} COLLATE NOCASE", present=expr)
    return FacetSql(f.name, expr)


# -- nodes ----------------------------------------------------------------------------
def _node(n: Node, params: list[Any], frequent: Frequent | None) -> str:
    def text(t: Text, p: list[Any]) -> str:
        query = fts_query(t)
        if query is None:
            return "0"
        p.append(query)
        return _FTS_CHECK if frequent is not None and frequent(query) else _FTS

    return boolean_sql(n, params, lambda t, p: _term(t, FIELDS[t.field], p), text, "0")


def fts_query(t: Text) -> str | None:
    """An FTS5 query that is one phrase of plain words (user text never reaches FTS5's
    own operators); None when the text holds no word."""
    words = fts_words(t.phrase)
    if not words:
        return None
    phrase = '"' + " ".join(words) + '"'
    return phrase + " *" if t.prefix else phrase


def _term(t: Term, f: Field, params: list[Any]) -> str:
    prefix = shared_source(f.source)
    if prefix is None:
        return _test(t, f, params)
    # A value many rows share (CVEs, findings, a certificate, a location) is tested once
    # per distinct value, in ``docs``; the rows naming a match are found on the index of
    # their hashes. Testing it row by row read and parsed every row (has_vuln at 10M
    # rows: over 20 s). Every stored record names a non-empty shared value by hash
    # (rows.share; schema migration 5 for older rows).
    ref = ref_at(prefix)
    if f.source == NonEmpty(prefix) and f.type == "bool":
        return f"{ref} IS NOT NULL" if t.values[0] else f"{ref} IS NULL"
    return f"{ref} IN (SELECT d.hash FROM docs d WHERE {_test(t, f, params, 'd.doc')})"


def _test(t: Term, f: Field, params: list[Any], within: str | None = None) -> str:
    """The term as a test of the row (or, ``within``, of the shared document)."""
    src = f.source
    if isinstance(src, Each):
        if f.element_type == "severity":
            cond = _compare(t, SEVERITY_RANK.format(x="e.value"), "int", params)
        else:
            cond = _compare(t, "e.value", "str", params)
        path = indexed_list(src) if within is None else None
        if path is not None:
            # each distinct list tested once, then the rows holding a match sought
            return (f"{list_text(path)} IN ({distinct_lists(path)} AND EXISTS"
                    f" (SELECT 1 FROM json_each(v) AS e WHERE {cond}))")
        return f"EXISTS (SELECT 1 FROM ({elements(src, within)}) AS e WHERE {cond})"
    if t.op == "glob":
        return _compare(t, "o.ip" if src == Column("ip") else scalar(src, within), "str",
                        params)
    if f.type in ("ip", "net"):
        return _address(t, params)
    if isinstance(src, MaxNumber):
        return _compare(t, scalar(src, within), "int", params, convert=leading_number)
    if f.type == "version" and t.op != "eq":
        # the product's version has its key stored; a section's release is keyed per row
        key = "o.version_key" if src == Column("version") else version_key(scalar(src, within))
        return _compare(t, key, "int", params, convert=version_sort_key)
    if f.type == "bool":
        params.append(1 if t.values[0] else 0)
        return f"{scalar(src, within)} = ?"
    return _compare(t, scalar(src, within), f.type, params)


def _compare(t: Term, expr: str, kind: str, params: list[Any],
             convert: Any = None) -> str:
    """``expr`` against the term's values: eq (any of), comparisons, inclusive range."""
    if t.op == "glob":  # LIKE is case-insensitive (ASCII) in SQLite, as search is
        params.append(like_pattern(t.values[0]))
        return f"{expr} LIKE ? ESCAPE '\\'"
    conv = convert or (lambda v: v)
    collate = " COLLATE NOCASE" if kind in ("str", "version") else ""
    if t.op == "eq":
        params.extend(conv(v) for v in t.values)
        if len(t.values) == 1:
            return f"{expr} = ?{collate}"
        return f"{expr}{collate} IN ({', '.join('?' * len(t.values))})"
    if t.op == "range":
        lo, hi = (None if v is None else conv(v) for v in t.values)
        return range_clause(expr, lo, hi, params, "?")
    params.append(conv(t.values[0]))
    return f"{expr} {_SQL_OP[t.op]} ?"


def _address(t: Term, params: list[Any]) -> str:
    expr = "o.ip_bin"
    if t.op == "eq":
        parts = []
        for v in t.values:
            if "/" in v:
                params.extend(network_bounds(v))
                parts.append(f"{expr} BETWEEN ? AND ?")
            else:
                params.append(ip_to_bin(v))
                parts.append(f"{expr} = ?")
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    if t.op == "range":
        lo, hi = (None if v is None else ip_to_bin(v) for v in t.values)
        return range_clause(expr, lo, hi, params, "?")
    params.append(ip_to_bin(t.values[0]))
    return f"{expr} {_SQL_OP[t.op]} ?"
