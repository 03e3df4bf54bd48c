"""``netatlas store``: the store itself — its schema, its size, and moving it whole from
one backend to another (a SQLite file up to PostgreSQL, say) without rescanning."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from netatlas.cli.options import db_option
from netatlas.cli.readstore import open_existing
from netatlas.model import Observation
from netatlas.store import Store, mask_url, open_store, resolve_db_path

COPY_BATCH = 5_000
err_console = Console(stderr=True)


@click.group("store")
def store_group() -> None:
    """The store: migrate its schema, show what it holds, copy it to another backend."""


@store_group.command("migrate")
@db_option
def migrate_cmd(db: str | None) -> None:
    """Bring the store's schema up to this version (opening any store does it too)."""
    store = open_store(db)
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    for line in applied:
        click.echo(f"applied {line}")
    click.echo(f"{mask_url(resolve_db_path(db))}: schema version {version}"
               + ("" if applied else " (up to date)"))


@store_group.command("info")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def info_cmd(db: str | None, as_json: bool) -> None:
    """Backend, schema version, services, observations (history included), size."""
    store = open_existing(db)
    try:
        services = store.count("")
        observations = sum(1 for _ in store.export_all()) if services < 100_000 else None
        info = {"store": mask_url(store.url), "schema_version": store.schema_version(),
                "services": services, "observations": observations,
                "scans": len(store.scans()), "api_keys": len(store.list_keys()),
                "cves": store.cve_count(), "disk_bytes": store.disk_bytes()}
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(info))
        return
    for key, value in info.items():
        click.echo(f"{key:<15} {'(not counted: large store)' if value is None else value}")


@store_group.command("compact")
@db_option
@click.option("--full", is_flag=True,
              help="PostgreSQL: VACUUM FULL — also return the tables' free space to the"
                   " system, but lock out searches and writes while it runs.")
def compact_cmd(db: str | None, full: bool) -> None:
    """Give back the space rescans leave behind (rows rewritten in place): SQLite
    VACUUM; PostgreSQL rebuilds the rewritten table's indexes beside the old ones
    (searches and scans go on), or VACUUM FULL with --full."""
    store = open_existing(db)
    try:
        before = store.disk_bytes()
        started = time.monotonic()
        store.compact(full=full)
        seconds = time.monotonic() - started
        after = store.disk_bytes()
    finally:
        store.close()
    click.echo(f"{mask_url(store.url)}: {_mb(before)} -> {_mb(after)}"
               f" ({_mb(before - after)} given back) in {seconds:.1f}s")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@store_group.command("copy")
@click.option("--from", "source", required=True, help="The store to copy (file or URL).")
@click.option("--to", "target", required=True, help="Where to copy it (file or URL).")
def copy_cmd(source: str, target: str) -> None:
    """Copy a whole store — observations with their history, scans, API keys and the CVE
    feed — into another, of either backend. Resumable: run it again after an
    interruption and it carries on where it stopped; nothing is copied twice."""
    if resolve_db_path(source) == resolve_db_path(target):
        raise click.UsageError("--from and --to name the same store")
    src = open_existing(source)  # the copy's target is created; its source must exist
    try:
        dst = open_store(target)
    except BaseException:
        src.close()
        raise
    try:
        copied = copy_store(src, dst)
    except KeyboardInterrupt:
        err_console.print("interrupted: run the same command again to carry on")
        sys.exit(130)
    finally:
        dst.close()
        src.close()
    click.echo(f"copied {copied:,} observations from {mask_url(source)} to {mask_url(target)}")


def copy_store(src: Store, dst: Store) -> int:
    """Scans, keys and CVEs (each idempotent), then observations in id order with a
    watermark kept in the target after each committed batch."""
    for scan in src.scans():
        dst.begin_scan(scan)
    dst.import_keys(src.key_rows())
    dst.cve_import(src.cve_entries())
    dst.flush()
    mark = f"copy-watermark:{mask_url(src.url)}"
    after = int(dst.meta_get(mark) or 0)
    copied = 0
    with Progress(TextColumn("copying"), BarColumn(), TextColumn("{task.completed:,} obs"),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("copy", total=None, rate="")
        started = time.monotonic()
        batch: list[Observation] = []
        last = after
        for oid, obs in src.export_all(after):
            batch.append(obs)
            last = oid
            if len(batch) >= COPY_BATCH:
                copied += _commit(dst, batch, mark, last)
                rate = copied / max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=copied, rate=f"{rate:,.0f}/s")
        if batch:
            copied += _commit(dst, batch, mark, last)
    return copied


def _commit(dst: Store, batch: list[Observation], mark: str, last: int) -> int:
    """Write a batch, wait for it to be committed, then move the watermark past it (a
    crash in between re-sends the batch, which the store does not double)."""
    dst.add_many(batch)
    dst.flush()
    dst.meta_set(mark, str(last))
    n = len(batch)
    batch.clear()
    return n
