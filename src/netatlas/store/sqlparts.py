"""Pieces of SQL both backends' query compilers write the same way, apart from the
parameter mark (``?`` for SQLite, ``%s`` for psycopg)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netatlas.query.ast import And, Glob, Node, Not, Or, Term, Text

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def range_clause(expr: str, lo: Any, hi: Any, params: list[Any], mark: str) -> str:
    """``expr`` within [lo, hi], either end open (None); both open: present at all."""
    if lo is not None and hi is not None:
        params += [lo, hi]
        return f"{expr} BETWEEN {mark} AND {mark}"
    if lo is not None:
        params.append(lo)
        return f"{expr} >= {mark}"
    if hi is not None:
        params.append(hi)
        return f"{expr} <= {mark}"
    return f"{expr} IS NOT NULL"


def leading_number(value: str) -> float | None:
    """``cvss:>=9.8`` compares numbers: the number a value starts with, or None."""
    m = _NUMBER.match(str(value).strip())
    return float(m.group()) if m else None


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


def boolean_sql(n: Node, params: list[Any], term: Callable[[Term, list[Any]], str],
                text: Callable[[Text, list[Any]], str], false: str) -> str:
    """The query's AND / OR / NOT structure as SQL; terms and full text are the
    backend's. NOT is NULL-safe: ``-product:x`` also matches rows without a product."""
    def walk(node: Node) -> str:
        if isinstance(node, Term):
            return term(node, params)
        if isinstance(node, Text):
            return text(node, params)
        if isinstance(node, Not):
            return f"NOT coalesce({walk(node.child)}, {false})"
        if isinstance(node, And | Or):
            glue = " AND " if isinstance(node, And) else " OR "
            return "(" + glue.join(walk(c) for c in node.children) + ")"
        raise TypeError(f"not a query node: {node!r}")

    return walk(n)
