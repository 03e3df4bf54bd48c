"""The embedded default backend: one SQLite file, zero set-up."""

from .store import SQLiteStore

__all__ = ["SQLiteStore"]
