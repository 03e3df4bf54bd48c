"""The facet values of one record, computed in Python from the published record exactly
as the backends' SQL reads them (``store/*/fields.py``), so that a store can keep running
totals per facet value as it writes, and answer a facet over everything without reading
every row (Shodan's and Censys's facets over their whole index are precomputed too).

A row's values are kept as one JSON list, positionally aligned with ``COUNTED``; the
store records ``LAYOUT`` beside them and recounts when a new version counts other facets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from netatlas.query.ast import Node, Not, Query, Term, Text
from netatlas.query.fields import FACETS, FIELDS, Column, Each, Json, Source, facet_field

# Facets whose values are nearly one per row: a running total per value would be as
# large as the table and help nothing. Their facets are counted from the rows.
UNCOUNTED = frozenset({"ip", "hostname", "http.title", "http.html_hash",
                       "ssl.cert.subject.cn", "snmp.sys_descr",
                       # added after the totals: kept out of them so that existing
                       # stores need no recount (counted from the rows, like ip)
                       "worker", "vantage"})
COUNTED: tuple[str, ...] = tuple(n for n in FACETS if n not in UNCOUNTED)
LAYOUT = ",".join(COUNTED)
# The published key a column holds (``title`` is http.title, denormalised).
_COLUMN_KEYS = {"ip": "ip_str", "ts": "timestamp"}


def _sql_value(value: Any) -> Any:
    """A JSON value as SQLite's json_extract returns it: booleans as integers, objects
    and arrays as their compact JSON text."""
    if value is None or type(value) is str or type(value) is int:
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _at(record: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _asn(value: Any) -> str | None:
    # 'AS' || ltrim(upper(CAST(x AS TEXT)), 'AS'), as both backends compare ASNs
    if value is None:
        return None
    text = str(int(value)) if isinstance(value, bool) else str(_sql_value(value))
    return "AS" + text.upper().lstrip("AS")


def _elements(src: Each, record: dict[str, Any]) -> list[Any]:
    """The distinct non-null elements a facet counts once per record, in first-seen
    order (json_each over each path, then a member, or an object's keys)."""
    out: list[Any] = []
    for path in src.paths:
        container = _at(record, path)
        if container is None:
            continue
        if isinstance(container, dict):
            items: list[Any] = list(container) if src.keys_or_values else list(
                container.values())
        elif isinstance(container, list):
            items = container
        else:
            items = [container]  # json_each of a scalar is that scalar
        for item in items:
            if src.member is not None:
                item = item.get(src.member) if isinstance(item, dict) else None
            item = _sql_value(item)
            if item is not None and item not in out:
                out.append(item)
    return out


def _title(record: dict[str, Any]) -> Any:
    title = _at(record, ("http", "title"))
    return None if title is None else title if isinstance(title, str) else str(title)


def _getter(src: Source) -> Callable[[dict[str, Any]], Any]:
    """How to read one facet's value from a record, decided once per facet (a write
    computes every counted facet of every latest row: the dispatch stays out of it)."""
    match src:
        case Column("title"):
            return _title
        case Column(name):
            key = _COLUMN_KEYS.get(name, name)
            return lambda record: record.get(key)
        case Json(path, asn=True):
            return lambda record: _asn(_at(record, path))
        case Json((key,)):  # most are top-level: no path walk
            return lambda record: _sql_value(record.get(key))
        case Json(path):
            return lambda record: _sql_value(_at(record, path))
        case Each():
            return lambda record: _elements(src, record)
    raise TypeError(f"not a countable facet source: {src!r}")


_GETTERS = tuple(_getter(f.facet_source or f.source) for f in map(facet_field, COUNTED))


def _title_of(http: dict[str, Any]) -> Any:
    title = http.get("title")
    return None if title is None else title if isinstance(title, str) else str(title)


def _split(src: Source) -> tuple[str | None, Callable[[dict[str, Any]], Any]]:
    """(the top-level section a facet reads, a getter on that section), or (None, a
    getter on the record): a record lacks most sections (ssl, ssh, smb, ...), and one
    look at the section skips all of its facets."""
    match src:
        case Column("title"):
            return "http", _title_of
        case Json(path, asn) if len(path) > 1:
            return path[0], _getter(Json(path[1:], asn))
        case Each(paths, member, kv) if paths and all(
                len(p) > 1 and p[0] == paths[0][0] for p in paths):
            return paths[0][0], _getter(Each(tuple(p[1:] for p in paths), member, kv))
    return None, _getter(src)


def _plan() -> tuple[tuple[str | None, tuple[tuple[int, Callable[[Any], Any]], ...]], ...]:
    groups: dict[str | None, list[tuple[int, Callable[[Any], Any]]]] = {}
    for i, f in enumerate(map(facet_field, COUNTED)):
        section, get = _split(f.facet_source or f.source)
        groups.setdefault(section, []).append((i, get))
    return tuple((k, tuple(v)) for k, v in groups.items())


_PLAN = _plan()


FacetPairs = tuple[tuple[int, Any], ...]


def facet_values(record: dict[str, Any]) -> str:
    """The record's value of each COUNTED facet (a list for list fields), as JSON: the
    layout stores before migration 7 kept (``pairs_of`` reads it)."""
    return orjson.dumps([get(record) for get in _GETTERS]).decode()


def facet_pairs(record: dict[str, Any]) -> FacetPairs:
    """What the record counts towards: (position in COUNTED, value), one pair per value
    (a list field gives one per element), none for a null. Hashable and flat, so the
    writer adds a row's pairs to its totals with one ``Counter.update`` (in C)."""
    out: list[tuple[int, Any]] = []
    for section, getters in _PLAN:
        source = record if section is None else record.get(section)
        if type(source) is not dict:
            continue
        for i, get in getters:
            value = get(source)
            if value is None:
                continue
            if type(value) is list:
                out.extend([(i, v) for v in value])
            else:
                out.append((i, value))
    return tuple(out)


def pairs_of(values_json: str) -> FacetPairs:
    """``facet_values``' positional JSON as pairs."""
    out: list[tuple[int, Any]] = []
    for i, value in enumerate(orjson.loads(values_json)):
        if type(value) is list:
            out.extend((i, v) for v in value)
        elif value is not None:
            out.append((i, value))
    return tuple(out)


# Facets whose value is a column of the row, as (position, column): the stored pairs
# leave them out, and the writer reads them from the row (a third of the pairs' bytes).
ROW_FACETS: tuple[tuple[int, str], ...] = tuple(
    (i, src.name) for i, f in enumerate(map(facet_field, COUNTED))
    if isinstance(src := f.facet_source or f.source, Column) and src.name != "title")
_ROW_POSITIONS = frozenset(i for i, _ in ROW_FACETS)


# The columns whose totals a count may read: a term on one of them compiles to a test of
# that column alone (`version:` comparisons read version_key: not one of them).
COUNTABLE_COLUMNS = frozenset(column for _, column in ROW_FACETS) - {"version"}


def counted_column(q: Query) -> str | None:
    """The one COUNTABLE_COLUMNS column every term of ``q`` tests (None: the rows must
    be counted — another field, full text, or nothing to test): a store that keeps
    running totals of that column's values counts from them."""
    columns: set[str] = set()

    def walk(node: Node) -> bool:
        if isinstance(node, Text):
            return False
        if isinstance(node, Term):
            src = FIELDS[node.field].source
            if not isinstance(src, Column) or src.name not in COUNTABLE_COLUMNS:
                return False
            columns.add(src.name)
            return True
        if isinstance(node, Not):
            return walk(node.child)
        return all(walk(child) for child in node.children)

    if q.root is None or not walk(q.root) or len(columns) != 1:
        return None
    return columns.pop()


def pairs_json(pairs: FacetPairs) -> str:
    """The pairs as stored: without those of ROW_FACETS."""
    return orjson.dumps([p for p in pairs if p[0] not in _ROW_POSITIONS]).decode()


def load_pairs(text: str | bytes, row: tuple[Any, ...]) -> Iterator[tuple[int, Any]]:
    """Stored pairs back as hashable tuples, with the ROW_FACETS ones from ``row`` (the
    row's values of those columns, in that order): for ``Counter.update``."""
    yield from map(tuple, orjson.loads(text))
    for (i, _), value in zip(ROW_FACETS, row, strict=True):
        if value is not None:
            yield i, value


def ascii_fold(value: Any) -> Any:
    """What SQLite's NOCASE collation compares: ASCII letters folded, nothing else."""
    return value.translate(_ASCII_LOWER) if isinstance(value, str) else value


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
