"""Query AST -> a parameterised PostgreSQL WHERE fragment over alias ``o`` (observations).

Only constants from the field registry become SQL text; every value from the user
travels as a ``%s`` parameter. NULL-safe negation: ``-product:x`` also matches rows
without a product, as a searcher expects. The answers are the SQLite store's, row for
row: the conformance tests run the same queries against both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netatlas.query import FIELDS, SEVERITIES, Field, Query, facet_field
from netatlas.query.ast import Node, Term, Text
from netatlas.query.fields import Column, Each, IsObject, Json, MaxNumber, NonEmpty
from netatlas.query.versions import version_sort_key
from netatlas.store.rows import fts_words, shared_prefix
from netatlas.store.sqlparts import boolean_sql, leading_number, like_pattern, range_clause

from . import inet, versionkey
from .fields import (
    SEVERITY_RANK,
    elements,
    json_at,
    lowered,
    number,
    plain,
    predicate,
    ref_at,
    text,
)
from .pgtext import pg_text

_SQL_OP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FTS = "o.fts @@ to_tsquery('simple', %s)"
_ESCAPE = "ESCAPE '\\'"


@dataclass(frozen=True, slots=True)
class SqlWhere:
    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FacetSql:
    """``SELECT {expr} AS value, count(*) FROM observations o {join} ... GROUP BY
    {group}``; ``notnull`` is what must not be NULL; ``text`` values sort bytewise."""

    name: str
    expr: str
    notnull: str
    group: str = "1"
    join: str = ""
    text: bool = True


def compile_where(q: Query) -> SqlWhere:
    if q.root is None:
        return SqlWhere("true", [])
    params: list[Any] = []
    sql = _node(q.root, params)
    return SqlWhere(sql, [pg_text(p) if isinstance(p, str) else p for p in params])


def facet_sql(name: str) -> FacetSql:
    """How a facet counts (ValueError for an unknown facet, worded by the registry)."""
    f = facet_field(name)
    src = f.facet_source or f.source
    if isinstance(src, Each):
        # one row per distinct element of each record: an element listed twice counts once
        join = (f"CROSS JOIN LATERAL (SELECT DISTINCT e.value FROM ({elements(src)}) AS e)"
                " AS fj")
        return FacetSql(f.name, "fj.value", "fj.value", join=join)
    if f.type == "int":
        expr = number(src)
        return FacetSql(f.name, expr, expr, text=False)
    expr = text(src)
    if f.facet_nocase:
        # group as search matches (case-insensitively); show the smallest spelling
        return FacetSql(f.name, f'min({expr} COLLATE "C")', expr, group=f"lower({expr})")
    return FacetSql(f.name, expr, expr)


# -- nodes ----------------------------------------------------------------------------
def _node(n: Node, params: list[Any]) -> str:
    return boolean_sql(n, params, lambda t, p: _term(t, FIELDS[t.field], p), _text, "false")


def _text(t: Text, params: list[Any]) -> str:
    query = fts_query(t)
    if query is None:
        return "false"
    params.append(query)
    return _FTS


def fts_query(t: Text) -> str | None:
    """A tsquery of one phrase of plain words (``a <-> b <-> c:*``); user text never
    reaches tsquery's own operators. None when the text holds no word."""
    words = fts_words(t.phrase)
    if not words:
        return None
    return " <-> ".join(words) + (":*" if t.prefix else "")


def _term(t: Term, f: Field, params: list[Any]) -> str:
    src = f.source
    if isinstance(src, Each):
        return _each(t, f, src, params)
    if t.op == "glob":
        params.append(like_pattern(t.values[0]))
        if src == Column("title"):  # the trigram index is on lower(title)
            return f"lower(o.title) LIKE lower(%s) {_ESCAPE}"
        return f"{text(src)} ILIKE %s {_ESCAPE}"
    if f.type in ("ip", "net"):
        return inet.condition(t, params)
    if isinstance(src, MaxNumber):
        return _compare(t, number(src), "num", params, convert=leading_number)
    if f.type == "version" and t.op != "eq":
        if src == Column("version"):
            return _compare(t, "o.version_key", "num", params, convert=version_sort_key)
        # a section's release: its key from the JSON string (schema migration 6)
        assert isinstance(src, Json), f"version field {f.name}: {src}"
        return _compare(t, versionkey.of_json(json_at(src.path)), "num", params,
                        convert=version_sort_key)
    if f.type == "bool":
        if isinstance(src, IsObject | NonEmpty):
            params.append(bool(t.values[0]))
            return f"{predicate(src)} = %s"
        assert isinstance(src, Json), f"bool field {f.name}: {src}"  # no bool column exists
        params.append("true" if t.values[0] else "false")
        return f"{json_at(src.path)} = %s::jsonb"
    if f.type in ("int", "date"):
        return _compare(t, number(src), "num", params)
    return _compare(t, text(src), "str", params)


def _each(t: Term, f: Field, src: Each, params: list[Any]) -> str:
    severity = f.element_type == "severity"
    if t.op == "eq":
        # ANY element equal, case-insensitively: containment in the lower-cased list,
        # which a GIN index answers
        names = [SEVERITIES[v] if severity else v for v in t.values]
        wanted = [(path, names) for path in src.paths]
        if src.paths == _CPE_PATHS:
            wanted = [(path, got) for path, got in _by_cpe_list(names) if got]
        alone = len(wanted) == 1
        parts = [_element_is(src, path, got, params, alone) for path, got in wanted]
        return "(" + " OR ".join(parts) + ")"
    if t.op == "glob":
        params.append(like_pattern(t.values[0]))
        cond = f"e.value ILIKE %s {_ESCAPE}"
    elif severity:
        cond = _compare(t, SEVERITY_RANK.format(x="e.value"), "num", params)
    else:
        cond = _compare(t, "e.value", "str", params)
    return f"EXISTS (SELECT 1 FROM ({elements(src)}) AS e WHERE {cond})"


_CPE_PATHS = (("cpe",), ("cpe23",))


def _by_cpe_list(names: list[str]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Which of a record's two CPE lists can hold each name: ``cpe23`` is ``cpe`` with
    each ``cpe:/`` name turned into ``cpe:2.3:`` and every other kept as it is
    (model.cpe22_to_23), so a ``cpe:/...`` name is found in ``cpe`` if anywhere, and any
    other in ``cpe23``. One list to test, one index to read."""
    v22 = [n for n in names if n.lower().startswith("cpe:/")]
    return [(("cpe",), v22), (("cpe23",), [n for n in names if n not in v22])]


def _element_is(src: Each, path: tuple[str, ...], names: list[str], params: list[Any],
                alone: bool) -> str:
    """The list at ``path`` has an element equal to one of ``names`` (case-insensitively),
    as an indexed containment test. A shared list (risks, vulns, cpe23) is looked for in
    ``docs`` (few rows) first, then the records naming a matching document: as a
    semi-join when this is the term's only test (the planner then starts from the
    documents), else as an array of hashes that an index scan under an OR can take.
    Records in a PostgreSQL store always name their shared lists by hash (to_row), so
    the ``$ref`` is all this reads; other tests on these lists also read lists stored
    whole (fields.container)."""
    split = shared_prefix(path)
    if split is None or split[1]:
        parts = []
        for name in names:
            params.append(name)
            parts.append(f"{lowered(path)} {_contains(src)}")
        return " OR ".join(parts)
    params.extend(names)
    found = " OR ".join([f"lower(d.doc::text)::jsonb {_contains(src)}"] * len(names))
    docs = f"SELECT d.hash FROM docs d WHERE {found}"
    if alone:
        return f"{ref_at(path)} IN ({docs})"
    return f"{ref_at(path)} = ANY (ARRAY({docs}))"


def _contains(src: Each) -> str:
    if src.keys_or_values:
        return "? lower(%s::text)"  # an object's keys, a list's string elements
    if src.member is not None:  # keys are lower-cased in the indexed copy too
        key = plain(src.member).lower()
        return f"@> jsonb_build_array(jsonb_build_object('{key}', lower(%s::text)))"
    return "@> jsonb_build_array(lower(%s::text))"


def _compare(t: Term, expr: str, kind: str, params: list[Any], convert: Any = None) -> str:
    """``expr`` against the term's values: eq (any of), comparisons, inclusive range."""
    conv = convert or (lambda v: v)
    if t.op == "eq":
        values = [conv(v) for v in t.values]
        params.extend(values)
        if kind == "str":
            if len(values) == 1:
                return f"lower({expr}) = lower(%s)"
            return f"lower({expr}) IN ({', '.join(['lower(%s)'] * len(values))})"
        if len(values) == 1:
            return f"{expr} = %s"
        return f"{expr} IN ({', '.join(['%s'] * len(values))})"
    if t.op == "range":
        lo, hi = (None if v is None else conv(v) for v in t.values)
        return range_clause(expr, lo, hi, params, "%s")
    params.append(conv(t.values[0]))
    return f"{expr} {_SQL_OP[t.op]} %s"
