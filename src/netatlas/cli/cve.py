"""``netatlas cve``: load an offline CVE feed (NVD CVE JSON 2.0) into the store file."""

from __future__ import annotations

import json
import sys

import click

from netatlas.assess.cve import CveDB
from netatlas.store import resolve_db_path


@click.group("cve")
def cve() -> None:
    """Offline CVE data used to attach `vulns` to observations by CPE."""


@cve.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--db", envvar="NETATLAS_DB", default=None,
              help="SQLite store file (default: $NETATLAS_DB, else ./netatlas.db).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def import_cmd(files: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Import NVD CVE JSON 2.0 FILES (.json or .json.gz)."""
    failed = False
    with CveDB(resolve_db_path(db)) as cdb:
        for path in files:
            try:
                n = cdb.import_nvd(path)
            except (ValueError, OSError, EOFError) as e:
                failed = True
                msg = {"file": path, "error": str(e)[:300]}
                click.echo(json.dumps(msg) if as_json else f"{path}: {msg['error']}", err=True)
                continue
            if as_json:
                click.echo(json.dumps({"file": path, "imported": n}))
            else:
                click.echo(f"{path}: {n} CVEs imported")
        if not as_json:
            click.echo(f"{cdb.count()} CVEs in {resolve_db_path(db)}")
    if failed:
        sys.exit(1)
