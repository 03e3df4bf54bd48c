"""Field sources (``netatlas.query.fields``) as SQLite expressions over alias ``o``.

Scalars are expressions; list sources are a SELECT yielding one row per element in a
column named ``value`` (correlated on ``o``), which the compiler tests with ``EXISTS``
and facets count. Every path here comes from the registry, never from user text.
"""

from __future__ import annotations

import sqlite3

from netatlas.query.fields import Column, Each, IsObject, Json, MaxNumber, NonEmpty, Path, Source
from netatlas.query.versions import version_sort_key
from netatlas.store.rows import REF, shared_prefix

_COLUMNS = {"ip": "o.ip_bin", "port": "o.port", "transport": "o.transport",
            "service": "o.service", "product": "o.product", "version": "o.version",
            "title": "o.title", "status": "o.status", "scan_id": "o.scan_id", "ts": "o.ts"}
# The severity scale as a rank, so severity:>=high compares numbers.
SEVERITY_RANK = ("CASE lower({x}) WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2"
                 " WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END")


# An element of json_each as JSON to read a member of, when it is an object (else NULL:
# a string element is SQL text, which json_extract would fail to parse — tested over
# the documents, a test meets every kind of shared value).
_OBJECT = "(CASE WHEN type = 'object' THEN value END)"


def json_path(path: Path) -> str:
    return "$" + "".join(f'."{p}"' for p in path)


def _container(path: Path, within: str | None = None) -> tuple[str, Path]:
    """(JSON text to read, the path inside it): the record, or — for a path under a
    shared value — that value from ``docs`` (or from the record, stored whole); or,
    given ``within`` (a shared document being tested, ``d.doc``), that document."""
    split = shared_prefix(path)
    if split is None:
        return "o.record", path
    prefix, rest = split
    if within is not None:
        return within, rest
    return (f"coalesce((SELECT d.doc FROM docs d WHERE d.hash ="
            f" json_extract(o.record, '{json_path((*prefix, REF))}')),"
            f" json_extract(o.record, '{json_path(prefix)}'))"), rest


def _extract(path: Path, within: str | None = None) -> str:
    doc, rest = _container(path, within)
    return f"json_extract({doc}, '{json_path(rest)}')" if rest else doc


def _each(path: Path, within: str | None = None) -> str:
    doc, rest = _container(path, within)
    return f"json_each({doc}, '{json_path(rest)}')" if rest else f"json_each({doc})"


def ref_at(prefix: Path) -> str:
    """The hash a row names its shared value at ``prefix`` by (NULL when it has none);
    the schema indexes it over the latest rows (schema.SHARED_REF_INDEXES)."""
    return f"json_extract(o.record, '{json_path((*prefix, REF))}')"


def scalar(src: Source, within: str | None = None) -> str:
    """``within``: read a source lying in a shared value from that document instead."""
    match src:
        case Column(name):
            return _COLUMNS[name]
        case Json(path, asn=True):
            # ASNs may be stored as 15169 or "AS15169": compare one normal form.
            return f"'AS' || ltrim(upper(CAST({_extract(path, within)} AS TEXT)), 'AS')"
        case Json(path):
            return _extract(path, within)
        case IsObject(path):
            doc, rest = _container(path, within)
            return f"(json_type({doc}, '{json_path(rest)}') IS 'object')"
        case NonEmpty(path):
            return f"EXISTS (SELECT 1 FROM {_each(path, within)})"
        case MaxNumber(path, member):
            m = json_path((member,))
            return (f"(SELECT max(CAST(json_extract({_OBJECT}, '{m}') AS REAL))"
                    f" FROM {_each(path, within)}"
                    f" WHERE json_type({_OBJECT}, '{m}') IN ('integer', 'real'))")
    raise TypeError(f"not a scalar source: {src!r}")


def elements(src: Each, within: str | None = None) -> str:
    if src.member is not None:
        element = f"json_extract({_OBJECT}, '{json_path((src.member,))}')"
    elif src.keys_or_values:
        element = "CASE WHEN typeof(key) = 'text' THEN key ELSE value END"
    else:
        element = "value"
    return " UNION ALL ".join(f"SELECT {element} AS value FROM {_each(p, within)}"
                              for p in src.paths)


# Lists of few distinct values: each latest row's list, as JSON text, is indexed
# (schema migration 7), so a test reads every distinct list once and seeks the rows
# holding a matching one (tag:x at 1M rows: a 6 s scan parsing every record -> 12 ms).
INDEXED_LISTS: tuple[Path, ...] = (("tags",),)


def list_text(path: Path, table: str | None = "o") -> str:
    """A row's list at ``path`` as JSON text (``->``: a lone string stays JSON); ``table``
    None in an index's expression."""
    column = "record" if table is None else f"{table}.record"
    return f"({column} -> '{json_path(path)}')"


def indexed_list(src: Each) -> Path | None:
    """The path of ``src`` when its lists are indexed and a test may read them whole."""
    if src.member is None and not src.keys_or_values and len(src.paths) == 1 \
            and src.paths[0] in INDEXED_LISTS:
        return src.paths[0]
    return None


def distinct_lists(path: Path) -> str:
    """Every distinct list the latest rows hold at ``path``, as a table ``lists(v)``: a
    walk from one index key to the next (a seek per distinct list, not a row read)."""
    x = list_text(path, "l")
    return ("WITH RECURSIVE lists(v) AS ("
            f"SELECT min({x}) FROM observations l WHERE l.is_latest = 1 AND {x} IS NOT NULL"
            f" UNION ALL SELECT (SELECT min({x}) FROM observations l"
            f" WHERE l.is_latest = 1 AND {x} > lists.v) FROM lists WHERE lists.v IS NOT NULL)"
            " SELECT v FROM lists WHERE v IS NOT NULL")


# -- versions in JSON ----------------------------------------------------------------------
# A release a protocol section names (elastic.version, ...) has no version_key column:
# its key is computed per row by this function, which the store registers on every
# connection it opens (store.SqliteStore._connect). PostgreSQL has the same function in
# SQL (store/postgres/versionkey.py), pinned to give the same bytes.
VERSION_KEY = "netatlas_version_key"


def _version_key(value: object) -> bytes | None:
    """versions.version_sort_key of a JSON string; a number, object or list (and SQL
    NULL) is no version: NULL, which no comparison matches."""
    return version_sort_key(value) if isinstance(value, str) else None


def register_functions(conn: sqlite3.Connection) -> None:
    """What compiled queries call, on a new connection of the store."""
    conn.create_function(VERSION_KEY, 1, _version_key, deterministic=True)


def version_key(expr: str) -> str:
    """The version sort key of the scalar ``expr`` (a JSON value): a blob, or NULL."""
    return f"{VERSION_KEY}({expr})"
