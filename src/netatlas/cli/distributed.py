"""``netatlas scan … --broker``: the scan planned here, run by a cluster's workers, and
followed with the same progress bar as a single-process scan (or ``--detach``)."""

from __future__ import annotations

import json
import sys

import click
import redis
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from netatlas import pipeline
from netatlas.cluster import dispatch
from netatlas.model import Scan
from netatlas.store import Store, mask_url

err_console = Console(stderr=True)
EXIT_INTERRUPTED = 130


class RateColumn(ProgressColumn):
    """Probes per second over the last updates (rich's own speed estimate)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} probes/s" if task.speed else "- probes/s")


def _check_broker(broker: str) -> None:
    client = redis.Redis.from_url(broker)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ValueError(f"broker {mask_url(broker)}: {exc}") from None
    finally:
        client.close()


def distributed_scan(store: Store, cfg: pipeline.ScanConfig, broker: str, shards: int,
                     detach: bool, as_json: bool) -> None:
    dispatch.tables_of(store)  # a file store: refused before anything is recorded
    _check_broker(broker)
    scan, plan = dispatch.submit(store, cfg, broker, shards)
    if not as_json:
        err_console.print(f"scan {scan.id}: {plan.space.size:,} endpoints in scope, "
                          f"{shards} shards queued (seed {cfg.seed})")
    _follow(store, scan, detach, as_json, plan.space.size)


def distributed_resume(store: Store, broker: str, scan_id: str, detach: bool,
                       as_json: bool) -> None:
    _check_broker(broker)
    scan, queued = dispatch.resume(store, scan_id, broker)
    if not as_json:
        err_console.print(f"scan {scan.id}: {len(queued)} unfinished shards queued again")
    _follow(store, scan, detach, as_json, None)


def _follow(store: Store, scan: Scan, detach: bool, as_json: bool,
            endpoints: int | None) -> None:
    if detach:
        store.close()
        click.echo(json.dumps({"scan_id": scan.id, "status": "queued"}) if as_json
                   else scan.id)
        return
    progress = Progress(
        TextColumn("[bold]scan {task.fields[scan_id]}"), BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("probes {task.completed:,.0f}  open {task.fields[open]}  "
                   "observed {task.fields[obs]}"),
        RateColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err_console,
        disable=as_json or not err_console.is_terminal)
    task = progress.add_task("scan", total=scan.total or None, completed=scan.done,
                             scan_id=scan.id, open=0, obs=0)

    def on_progress(s: Scan) -> None:
        progress.update(task, total=s.total or None, completed=s.done, open=s.open_ports,
                        obs=s.observations)

    try:
        with progress:
            final = dispatch.follow(store, scan.id, on_progress)
    except KeyboardInterrupt:
        store.close()
        err_console.print(f"stopped following: scan {scan.id} goes on on the workers "
                          "(netatlas scans shows it)")
        sys.exit(EXIT_INTERRUPTED)
    store.close()
    summary = {"scan_id": final.id, "status": final.status, "endpoints": endpoints,
               "open": final.open_ports, "observations": final.observations}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        err_console.print(f"scan {final.id} {final.status}: {final.open_ports} open, "
                          f"{final.observations} observations stored")
    if final.status != "finished":
        sys.exit(1)
