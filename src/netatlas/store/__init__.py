"""Where everything that persists lives: one interface (``Store``), two backends —
SQLite (a file, the default) and PostgreSQL (``postgresql://`` URLs)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from netatlas.store.base import (
    ROLES,
    ApiKey,
    CveCandidate,
    CveEntry,
    CveRange,
    FacetCounts,
    FacetValue,
    KeyRow,
    Page,
    Role,
    Store,
    StoreUnavailable,
)
from netatlas.store.cursor import CursorError

__all__ = [
    "DEFAULT_DB", "ROLES", "ApiKey", "CursorError", "CveCandidate", "CveEntry", "CveRange",
    "FacetCounts", "FacetValue", "KeyRow", "Page", "Role", "Store", "StoreUnavailable",
    "is_postgres", "mask_url", "open_store", "resolve_db_path",
]

DEFAULT_DB = "netatlas.db"
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> str:
    """``--db`` wins, then ``NETATLAS_DB``, then ``./netatlas.db``."""
    if path:
        return str(path)
    return os.environ.get("NETATLAS_DB") or DEFAULT_DB


def is_postgres(target: str) -> bool:
    return target.startswith(("postgres://", "postgresql://"))


def mask_url(target: str) -> str:
    """A store address fit for a log line: any password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", target)


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """The store at a file path or a ``postgresql://`` URL, brought up to this
    version's schema."""
    target = resolve_db_path(path)
    if is_postgres(target):
        from netatlas.store.postgres import PostgresStore

        return PostgresStore(target)
    from netatlas.store.sqlite import SQLiteStore

    Path(target).parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(target)
