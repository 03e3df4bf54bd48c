"""``netatlas worker`` and ``netatlas cluster``: the scale-out fronts (netatlas.cluster)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from pathlib import Path

import click
from rich.console import Console

from netatlas.cli.options import db_option
from netatlas.store import is_postgres, mask_url, resolve_db_path

err_console = Console(stderr=True)

broker_option = click.option(
    "--broker", envvar="NETATLAS_BROKER", default=None, metavar="URL",
    help="Celery broker: redis://HOST:6379/0 (default: $NETATLAS_BROKER).")


def _check_source(ip: str) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
    except OSError as exc:
        raise click.BadParameter(f"cannot bind {ip}: {exc}", param_hint="--source-ip") from None


@click.command()
@broker_option
@db_option
@click.option("--allow", multiple=True,
              help="CIDR/range this worker may touch (required; repeatable): a task "
                   "outside it is refused and logged.")
@click.option("--allow-file", multiple=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--source-ip", default=None, help="Source address of every probe and grab.")
@click.option("--concurrency", type=int, default=1, show_default=True,
              help="Shards run at once (one process each).")
@click.option("--name", default=None, help="Worker name, recorded on each observation "
                                           "(default: w<pid>@<host>).")
@click.option("--visibility-timeout", type=float, default=3600.0, show_default=True,
              help="Seconds before the broker hands an unacknowledged shard to another "
                   "worker (its whole host died); size it to your longest shard.")
@click.option("--lease-ttl", type=float, default=10.0, show_default=True,
              help="Seconds a dead worker's shard stays locked.")
@click.option("--check", is_flag=True,
              help="Dry run: check broker, store, allow list and source address, then exit.")
def worker(broker: str | None, db: str | None, allow: tuple[str, ...],
           allow_file: tuple[str, ...], source_ip: str | None, concurrency: int,
           name: str | None, visibility_timeout: float, lease_ttl: float, check: bool) -> None:
    """Run shards of distributed scans (a Celery worker)."""
    import redis

    from netatlas.cluster import QUEUE, make_app
    from netatlas.cluster.settings import WorkerSettings, configure
    from netatlas.cluster.tasks import register
    from netatlas.store import open_store

    if not broker:
        raise click.UsageError("give --broker redis://HOST:PORT/DB (or $NETATLAS_BROKER)")
    target = resolve_db_path(db)
    if not is_postgres(target):
        raise click.UsageError("a worker writes to a shared PostgreSQL store: give --db "
                               "postgresql://… (or $NETATLAS_DB)")
    if not allow and not allow_file:
        raise click.UsageError("a worker needs its own --allow (or --allow-file)")
    if source_ip:
        _check_source(source_ip)
    settings = WorkerSettings(broker=broker, db=target, allow=list(allow),
                              allow_files=list(allow_file), source_ip=source_ip,
                              name=name or "", lease_ttl=lease_ttl)
    settings.scope()  # a bad range fails here, before Celery starts
    client = redis.Redis.from_url(broker)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise click.ClickException(f"broker {mask_url(broker)}: {exc}") from None
    finally:
        client.close()
    store = open_store(target)  # migrates: the shard table exists before any task
    store.close()
    if check:
        click.echo(json.dumps({"worker": settings.name, "broker": mask_url(broker),
                               "db": mask_url(target), "allow": settings.allow,
                               "source_ip": source_ip, "concurrency": concurrency,
                               "ok": True}))
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    configure(settings)
    app = make_app(broker, visibility_timeout)
    register(app)
    app.worker_main(["worker", "-Q", QUEUE, "-c", str(concurrency), "-n", settings.name,
                     "-P", "prefork", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-l", "INFO"])


@click.group()
def cluster() -> None:
    """A whole cluster on this machine: redis-server, PostgreSQL and N workers."""


@cluster.command("up")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--allow", multiple=True, required=True,
              help="What the workers may touch (repeatable).")
@db_option
@click.option("--state-dir", type=click.Path(file_okay=False), default=".netatlas-cluster",
              show_default=True, help="PID files, logs, the throwaway PostgreSQL and Redis.")
@click.option("--source-net", default="127.21.0.0/16", show_default=True,
              help="Loopback network the workers' source addresses come from "
                   "(worker i scans from its (i+1)th address).")
@click.option("--lease-ttl", type=float, default=10.0, show_default=True)
def cluster_up(workers: int, allow: tuple[str, ...], db: str | None, state_dir: str,
               source_net: str, lease_ttl: float) -> None:
    """Start redis-server, a PostgreSQL (unless --db names one) and N workers."""
    from netatlas.cluster.local import LocalCluster

    c = LocalCluster(Path(state_dir))
    info = c.up(workers, list(allow), db=db if db else None, source_net=source_net,
                lease_ttl=lease_ttl)
    err_console.print(f"cluster up: {len(info['workers'])} workers; logs in {state_dir}")
    click.echo(f"export NETATLAS_BROKER={info['broker']}")
    click.echo(f"export NETATLAS_DB={info['db']}")


@cluster.command("status")
@click.option("--state-dir", type=click.Path(file_okay=False), default=".netatlas-cluster",
              show_default=True)
def cluster_status(state_dir: str) -> None:
    """What the cluster started, and whether it still runs."""
    from netatlas.cluster.local import LocalCluster

    for line in LocalCluster(Path(state_dir)).status():
        click.echo(json.dumps(line))


@cluster.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False), default=".netatlas-cluster",
              show_default=True)
def cluster_down(state_dir: str) -> None:
    """Stop the workers, Redis and PostgreSQL the cluster started, by PID."""
    from netatlas.cluster.local import LocalCluster

    stopped = LocalCluster(Path(state_dir)).down()
    err_console.print(f"cluster down: stopped {stopped} processes")
