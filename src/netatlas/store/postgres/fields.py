"""Field sources (``netatlas.query.fields``) as PostgreSQL expressions over alias ``o``.

Scalars are expressions; list sources are a SELECT yielding one text row per element in
a column named ``value`` (correlated on ``o``), which the compiler tests with ``EXISTS``
and facets count. ``o`` is a row of ``latest``. JSON is read from its ``record`` jsonb
column, or — for a path under a shared value (``rows.SHARED_PATHS``: a certificate, a
location, the CVEs, ...) — from the document in ``docs`` the record names by
``{"$ref": hash}`` (or from the record itself, when it holds the value whole). Every
path here comes from the registry (checked to be a plain name), never from user text.

Lists also have a lower-cased copy (``lowered``) that GIN indexes cover, so equality on
an element (``tag:web``, ``vuln:CVE-…``, ``risk:…``) is an indexed containment test.
"""

from __future__ import annotations

import re

from netatlas.query.fields import Column, Each, IsObject, Json, MaxNumber, NonEmpty, Path, Source
from netatlas.store.rows import REF, shared_prefix

COLUMNS = {"ip": "o.ip", "port": "o.port", "transport": "o.transport",
           "service": "o.service", "product": "o.product", "version": "o.version",
           "title": "o.title", "status": "o.status", "scan_id": "o.scan_id", "ts": "o.ts"}
# The severity scale as a rank, so severity:>=high compares numbers.
SEVERITY_RANK = ("CASE lower({x}) WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2"
                 " WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
# The address as the observation spelled it (as SQLite keeps it), not the inet's
# canonical text: wildcards and the ip facet see the same strings.
IP_TEXT = "coalesce(o.ip_text, host(o.ip))"


def path_literal(path: Path) -> str:
    """``('ssl', 'cert')`` -> ``'{ssl,cert}'`` (a text[] for ``#>``)."""
    for part in path:
        if not _NAME.fullmatch(part):
            raise ValueError(f"not a plain JSON key: {part!r}")
    return "'{" + ",".join(path) + "}'"


def ref_at(prefix: Path) -> str:
    """The hash a record names at a shared path (NULL when it holds the value whole)."""
    return f"(o.record #>> {path_literal(prefix)[:-2]},{REF}}}')"


def container(path: Path) -> tuple[str, Path]:
    """(jsonb to read, the path inside it): the record, or — for a path under a shared
    value — that value from ``docs`` (or from the record, when stored whole)."""
    split = shared_prefix(path)
    if split is None:
        return "o.record", path
    prefix, rest = split
    return (f"coalesce((SELECT d.doc FROM docs d WHERE d.hash = {ref_at(prefix)}),"
            f" o.record #> {path_literal(prefix)})"), rest


def json_at(path: Path) -> str:
    doc, rest = container(path)
    return f"({doc} #> {path_literal(rest)})" if rest else f"({doc})"


def _when(x: str, kind: str) -> str:
    """``x`` when its JSON type is ``kind``, else NULL (set-returning functions raise on
    the wrong type; NULL gives no rows)."""
    return f"CASE WHEN jsonb_typeof({x}) = '{kind}' THEN {x} END"


def stored_at(path: Path) -> str:
    """The JSON at ``path`` of the stored record as it is (a shared value's {"$ref"})."""
    return f"(o.record #> {path_literal(path)})"


def lowered(path: Path) -> str:
    """The stored JSON at ``path`` with every string lower-cased: what the GIN indexes
    hold."""
    return f"lower({stored_at(path)}::text)::jsonb"


def text(src: Source) -> str:
    """A scalar as text (strings compare as text, case-insensitively)."""
    match src:
        case Column("ip"):
            return IP_TEXT
        case Column(name):
            return COLUMNS[name]
        case Json(path, asn=True):
            # ASNs may be stored as 15169 or "AS15169": compare one normal form.
            return f"('AS' || ltrim(upper({_text_at(path)}), 'AS'))"
        case Json(path):
            return f"({_text_at(path)})"
        case MaxNumber():
            return f"({number(src)})::text"
    raise TypeError(f"not a text source: {src!r}")


def _text_at(path: Path) -> str:
    doc, rest = container(path)
    return f"{doc} #>> {path_literal(rest)}"


def number(src: Source) -> str:
    """A scalar as a number; NULL when it is not one (non-numbers never match)."""
    match src:
        case Column(name):
            return COLUMNS[name]
        case Json(path):
            x = json_at(path)
            return f"(CASE WHEN jsonb_typeof({x}) = 'number' THEN {x}::numeric END)"
        case MaxNumber(path, member):
            m = f"v.value -> '{plain(member)}'"
            return (f"(SELECT max(({m})::float8) FROM ({_values(json_at(path))}) AS v"
                    f" WHERE jsonb_typeof({m}) = 'number')")
    raise TypeError(f"not a numeric source: {src!r}")


def predicate(src: IsObject | NonEmpty) -> str:
    """A boolean source that is never NULL (``ssl:false`` matches rows without ssl)."""
    split = shared_prefix(src.path)
    if isinstance(src, NonEmpty) and split is not None and not split[1]:
        # a shared value is stored only when non-empty: its {"$ref": ...} says so
        x = f"(o.record #> {path_literal(src.path)})"
    else:
        x = json_at(src.path)
    if isinstance(src, IsObject):
        return f"coalesce(jsonb_typeof({x}) = 'object', false)"
    return (f"(CASE jsonb_typeof({x}) WHEN 'object' THEN {x} <> '{{}}'::jsonb"
            f" WHEN 'array' THEN {x} <> '[]'::jsonb WHEN 'null' THEN false"
            f" ELSE {x} IS NOT NULL END)")


def elements(src: Each) -> str:
    """One row per element (as text, column ``value``) of every list at ``src.paths``."""
    selects = []
    for path in src.paths:
        j = f"(SELECT {json_at(path)} AS j) AS src"  # read (and resolved) once a row
        if src.member is not None:
            selects.append(f"SELECT e.value ->> '{plain(src.member)}' AS value FROM {j},"
                           f" jsonb_array_elements({_when('src.j', 'array')}) AS e")
        elif src.keys_or_values:
            selects.append(f"SELECT k AS value FROM {j},"
                           f" jsonb_object_keys({_when('src.j', 'object')}) AS k")
            selects.append(f"SELECT e.value FROM {j},"
                           f" jsonb_array_elements_text({_when('src.j', 'array')}) AS e")
        else:
            selects.append(f"SELECT e.value FROM {j},"
                           f" jsonb_array_elements_text({_when('src.j', 'array')}) AS e")
    return " UNION ALL ".join(selects)


def _values(x: str) -> str:
    """The values of an object, or the elements of a list (jsonb, column ``value``)."""
    j = f"(SELECT {x} AS j) AS src"
    return (f"SELECT e.value FROM {j}, jsonb_each({_when('src.j', 'object')}) AS e"
            f" UNION ALL SELECT e.value FROM {j},"
            f" jsonb_array_elements({_when('src.j', 'array')}) AS e")


def plain(name: str) -> str:
    """A JSON key from the registry, checked to need no quoting."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain JSON key: {name!r}")
    return name
