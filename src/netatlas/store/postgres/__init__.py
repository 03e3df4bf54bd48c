"""PostgreSQL backend: ``PostgresStore("postgresql://user@host/db")``.

``store.py`` the class, ``schema.py`` the migrations, ``fields.py`` field sources as SQL,
``compile.py`` the query AST as a WHERE clause, ``writer.py`` the batched COPY writer,
``inet.py`` address terms in the SQLite store's order.
"""

from __future__ import annotations

from .store import PostgresStore

__all__ = ["PostgresStore"]
