"""Opening a store to read it. ``open_store`` creates a missing SQLite file and its
folders (what ``scan`` and ``import`` want); a read command doing that turned a
mistyped ``--db`` into an empty store answering "0 results". Here a missing store is
an error, and nothing is created."""

from __future__ import annotations

import os
from pathlib import Path

import click

from netatlas.cli.escape import escape_terminal
from netatlas.store import Store, is_postgres, open_store, resolve_db_path


class NoStore(click.ClickException):
    exit_code = 1


def open_existing(db: str | os.PathLike[str] | None) -> Store:
    """The store named by ``db`` (or ``$NETATLAS_DB``, ``./netatlas.db``), which must
    exist; a PostgreSQL database is the server's to have or not."""
    target = resolve_db_path(db)
    if not is_postgres(target) and not Path(target).is_file():
        raise NoStore(f"the store {escape_terminal(target)} does not exist (read commands "
                      "create none: scan or import fills a new store; check --db)")
    return open_store(target)
