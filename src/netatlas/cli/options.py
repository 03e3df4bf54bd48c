"""Options more than one command takes, defined once."""

from __future__ import annotations

import click

db_option = click.option(
    "--db", envvar="NETATLAS_DB", default=None,
    help="Store: a SQLite file or a postgresql://user@host:port/dbname URL"
         " (default: $NETATLAS_DB, else ./netatlas.db).",
)
