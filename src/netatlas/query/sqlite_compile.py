"""Query -> a parameterised SQLite WHERE fragment over alias ``o`` (observations).

Only constants from the field registry become SQL text; every value from the user
travels as a ``?`` parameter. NULL-safe negation: ``-product:x`` also matches rows
without a product, as a searcher expects.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .ast import And, Glob, Node, Not, Or, Query, Term, Text
from .fields import FACETS, FIELDS, Field, lookup
from .ipbin import ip_to_bin, network_bounds

_SQL_OP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FTS = "o.id IN (SELECT rowid FROM obs_fts WHERE obs_fts MATCH ?)"


@dataclass(frozen=True, slots=True)
class SqlWhere:
    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FacetSql:
    """``SELECT {expr} AS value ... FROM observations o[, {join}] WHERE o.is_latest = 1``."""

    name: str
    expr: str
    join: str | None = None


def compile_sqlite(q: Query) -> SqlWhere:
    if q.root is None:
        return SqlWhere("1", [])
    params: list[Any] = []
    return SqlWhere(_node(q.root, params), params)


def facet_sql(name: str) -> FacetSql:
    f = lookup(name)
    if f is None or not f.facetable:
        near = difflib.get_close_matches(name.lower(), FACETS, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ValueError(f'unknown facet "{name}"{hint}; facets: {", ".join(FACETS)}')
    if f.type == "list":
        # One row per element: the element set, folded to a JSON array per row.
        elements = f.facet_expr or f.sql
        join = f"json_each((SELECT json_group_array(value) FROM ({elements}))) AS fj"
        return FacetSql(f.name, "fj.value", join)
    return FacetSql(f.name, f.facet_expr or f.sql)


# -- nodes ----------------------------------------------------------------------------
def _node(n: Node, params: list[Any]) -> str:
    if isinstance(n, Term):
        return _term(n, FIELDS[n.field], params)
    if isinstance(n, Text):
        params.append(fts_query(n))
        return _FTS
    if isinstance(n, Not):
        return f"NOT coalesce({_node(n.child, params)}, 0)"
    if isinstance(n, And | Or):
        glue = " AND " if isinstance(n, And) else " OR "
        return "(" + glue.join(_node(c, params) for c in n.children) + ")"
    raise TypeError(f"not a query node: {n!r}")


def fts_query(t: Text) -> str:
    """An FTS5 query that is always one literal phrase: user text cannot reach
    FTS5's own operators (NEAR, column filters, ...)."""
    # FTS5's parser stops at NUL ("unterminated string"); a NUL separates words anyway.
    phrase = t.phrase.replace("\x00", " ")
    quoted = '"' + phrase.replace('"', '""') + '"'
    return quoted + " *" if t.prefix and t.phrase else quoted


def like_pattern(g: Glob) -> str:
    """Glob -> LIKE pattern for ``ESCAPE '\\'``."""
    out: list[str] = []
    chars = iter(g.pattern)
    for ch in chars:
        if ch == "\\":
            lit = next(chars, "\\")
            out.append("\\" + lit if lit in "%_\\" else lit)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _term(t: Term, f: Field, params: list[Any]) -> str:
    if f.type == "list":
        kind = "severity" if f.element_type == "severity" else "str"
        cond = _scalar(t, "e.value", kind, f, params)
        return f"EXISTS (SELECT 1 FROM ({f.sql}) AS e WHERE {cond})"
    return _scalar(t, f.sql, f.type, f, params)


def _scalar(t: Term, expr: str, kind: str, f: Field, params: list[Any]) -> str:
    if t.op == "glob":
        params.append(like_pattern(t.values[0]))
        return f"{f.text_sql or expr} LIKE ? ESCAPE '\\'"
    if kind in ("ip", "net"):
        return _address(t, expr, params)
    if kind == "severity":
        expr = f"na_severity_rank({expr})"
    elif kind == "version" and t.op != "eq":
        return _version(t, expr, params)
    elif kind == "bool":
        params.append(1 if t.values[0] else 0)
        return f"{expr} = ?"
    collate = " COLLATE NOCASE" if kind in ("str", "version") else ""
    if t.op == "eq":
        params.extend(t.values)
        if len(t.values) == 1:
            return f"{expr} = ?{collate}"
        return f"{expr}{collate} IN ({', '.join('?' * len(t.values))})"
    if t.op == "range":
        return _range(expr, t.values, params)
    params.append(t.values[0])
    return f"{expr} {_SQL_OP[t.op]} ?"


def _range(expr: str, bounds: tuple[Any, ...], params: list[Any]) -> str:
    lo, hi = bounds
    if lo is not None and hi is not None:
        params += [lo, hi]
        return f"{expr} BETWEEN ? AND ?"
    if lo is not None:
        params.append(lo)
        return f"{expr} >= ?"
    if hi is not None:
        params.append(hi)
        return f"{expr} <= ?"
    return f"{expr} IS NOT NULL"


def _version(t: Term, expr: str, params: list[Any]) -> str:
    cmp = f"na_version_cmp({expr}, ?)"
    if t.op == "range":
        lo, hi = t.values
        parts = []
        if lo is not None:
            params.append(lo)
            parts.append(f"{cmp} >= 0")
        if hi is not None:
            params.append(hi)
            parts.append(f"{cmp} <= 0")
        return "(" + " AND ".join(parts) + ")" if parts else f"{expr} IS NOT NULL"
    params.append(t.values[0])
    return f"{cmp} {_SQL_OP[t.op]} 0"


def _address(t: Term, expr: str, params: list[Any]) -> str:
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
        return _range(expr, (lo, hi), params)
    params.append(ip_to_bin(t.values[0]))
    return f"{expr} {_SQL_OP[t.op]} ?"
