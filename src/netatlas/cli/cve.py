"""``netatlas cve``: load an offline CVE feed (NVD CVE JSON 2.0) into the store file."""

from __future__ import annotations

import json
import sys

import click

from netatlas.assess.cve import CveDB
from netatlas.cli.escape import escape_terminal
from netatlas.cli.options import db_option
from netatlas.store import mask_url, open_store, resolve_db_path


@click.group("cve")
def cve() -> None:
    """Offline CVE data used to attach `vulns` to observations by CPE."""


@cve.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def import_cmd(files: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Import NVD CVE JSON 2.0 FILES (.json or .json.gz)."""
    failed = False
    store = open_store(db)
    cdb = CveDB(store)
    try:
        for path in files:
            try:
                n = cdb.import_nvd(path)
            except (ValueError, OSError, EOFError) as e:
                failed = True
                msg = {"file": path, "error": str(e)[:300]}
                text = escape_terminal(f"{path}: {msg['error']}")  # a file's name and words
                click.echo(json.dumps(msg) if as_json else text, err=True)
                continue
            if as_json:
                click.echo(json.dumps({"file": path, "imported": n}))
            else:
                click.echo(escape_terminal(f"{path}: {n} CVEs imported"))
        if not as_json:
            click.echo(escape_terminal(f"{cdb.count()} CVEs in {mask_url(resolve_db_path(db))}"))
    finally:
        store.close()
    if failed:
        sys.exit(1)
