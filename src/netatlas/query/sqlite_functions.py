"""Custom SQL functions the compiled queries call. The store registers them on every
connection it opens; they are deterministic, so SQLite may use them in indexes."""

from __future__ import annotations

import sqlite3

from .versions import compare_versions

SEVERITIES = ("info", "low", "medium", "high", "critical")
_SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def version_cmp(a: object, b: object) -> int | None:
    """SQL ``na_version_cmp(a, b)``: -1/0/1, NULL when either is not a version."""
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    return compare_versions(a, b)


def severity_rank(value: object) -> int | None:
    """SQL ``na_severity_rank(s)``: info=0 ... critical=4, NULL for anything else."""
    if not isinstance(value, str):
        return None
    return _SEVERITY_RANK.get(value.strip().lower())


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("na_version_cmp", 2, version_cmp, deterministic=True)
    conn.create_function("na_severity_rank", 1, severity_rank, deterministic=True)
