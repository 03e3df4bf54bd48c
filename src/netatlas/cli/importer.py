"""``netatlas import``: other tools' output (nmap, masscan, ZGrab2, httpx, Shodan) and
netatlas's own JSON lines into the store."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from netatlas.cli import render
from netatlas.cli.options import db_option
from netatlas.interop import FORMATS, FileReport, import_file
from netatlas.interop._input import Input
from netatlas.store import open_store

err = Console(stderr=True, markup=False, highlight=False)


def _plain(value: object, limit: int) -> str:
    """Hostile text (file names, reasons quoting input) as one capped line."""
    return render.safe(value, limit).plain


@click.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto",
              show_default=True, help="The producer; auto-detected from the first bytes.")
@click.option("--reidentify", is_flag=True,
              help="Run netatlas's identification and risk checks on the imported banners"
                   " (stored bytes only; nothing is contacted).")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary per file.")
@db_option
def import_cmd(files: tuple[str, ...], fmt: str, reidentify: bool, as_json: bool,
               db: str | None) -> None:
    """Import FILES (nmap XML, masscan, ZGrab2, httpx, Shodan json.gz, netatlas JSONL;
    gzip / bz2 / xz; - for stdin). Imported records keep their own time and origin
    (search source:nmap); importing a file again doubles nothing."""
    store = open_store(db)
    transform = None
    if reidentify:
        from netatlas.interop.reidentify import Reidentifier

        transform = Reidentifier(store)
    failed = False
    try:
        for name in files:
            report = _one(store, name, fmt, transform, quiet=as_json)
            failed = failed or report.error is not None
            if as_json:
                click.echo(json.dumps(report.to_dict()))
            else:
                _summary(report)
    finally:
        store.close()
    if failed:
        sys.exit(1)


def _one(store: object, name: str, fmt: str, transform: object, quiet: bool) -> FileReport:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TextColumn("{task.fields[records]} records, {task.fields[rate]}/s"),
                        TimeRemainingColumn(), console=err, transient=True,
                        disable=quiet or not err.is_terminal)
    task: TaskID | None = None

    def on_detect(report: FileReport) -> None:
        nonlocal task
        if not quiet:
            comp = f", {report.compression}" if report.compression else ""
            err.print(_plain(f"{name}: {report.format} ({report.variant}{comp}) —"
                                  f" {report.reason}", 400))
        task = progress.add_task(_plain(name, 60), total=None, records=0, rate=0)

    def on_progress(report: FileReport, inp: Input) -> None:
        if task is None:
            return
        elapsed = progress.tasks[task].elapsed or 0.0
        rate = int(report.imported / elapsed) if elapsed > 0 else 0
        progress.update(task, completed=inp.position(), total=inp.size,
                        records=report.imported, rate=rate)

    with progress:
        return import_file(store, name, fmt, transform=transform,  # type: ignore[arg-type]
                           on_detect=on_detect, on_progress=on_progress)


def _summary(report: FileReport) -> None:
    name = _plain(report.name, 200)
    if report.error and not report.format:
        err.print(f"{name}: {_plain(report.error, 500)}", style="red")
        return
    line = f"{name}: imported {report.imported}, skipped {report.skipped}"
    if report.already_stored:
        line += f", already stored {report.already_stored} (not stored twice)"
    if report.reasons:
        line += " (" + ", ".join(f"{_plain(k, 80)}: {v}"
                                 for k, v in report.reasons.most_common(8)) + ")"
    click.echo(line)
    for s in report.skips:
        err.print(f"  line {s.line}: {_plain(s.reason, 300)}", style="yellow")
    if report.skipped > len(report.skips):
        err.print(f"  … and {report.skipped - len(report.skips)} more skipped")
    if report.error:
        err.print(f"{name}: {_plain(report.error, 500)}", style="red")
