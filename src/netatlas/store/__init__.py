"""Where observations live: one interface (``Store``), backends behind it."""

from __future__ import annotations

import os
from pathlib import Path

from netatlas.store.base import FacetValue, Store

__all__ = ["DEFAULT_DB", "FacetValue", "Store", "open_store", "resolve_db_path"]

DEFAULT_DB = "netatlas.db"


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> str:
    """``--db`` wins, then ``NETATLAS_DB``, then ``./netatlas.db``."""
    if path:
        return str(path)
    return os.environ.get("NETATLAS_DB") or DEFAULT_DB


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    target = resolve_db_path(path)
    if target.startswith(("postgres://", "postgresql://")):
        raise NotImplementedError("the PostgreSQL backend is not built yet; use a SQLite path")
    from netatlas.store.sqlite import SQLiteStore

    Path(target).parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(target)
