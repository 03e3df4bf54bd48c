"""``netatlas monitor`` (create, list, show, edit, pause, resume, delete, run-now,
daemon, triggers, notifier, deliveries) and ``netatlas events``: thin over
``netatlas.monitor.service``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from netatlas.cli.escape import escape_terminal
from netatlas.cli.options import db_option
from netatlas.monitor import Monitor, format_duration, parse_duration
from netatlas.monitor import service as svc
from netatlas.monitor.changes import KINDS
from netatlas.monitor.daemon import Daemon
from netatlas.monitor.notify.deliver import Backoff, Sender, deliver_due, send_in_thread
from netatlas.monitor.runner import run_monitor
from netatlas.monitor.triggers import TRIGGERS, TriggerError
from netatlas.query import QuerySyntaxError
from netatlas.scope import ScopeError
from netatlas.store import Store, open_store
from netatlas.store.monitors import monitor_tables

F = TypeVar("F", bound=Callable[..., Any])
json_option = click.option("--json", "as_json", is_flag=True, help="JSON output.")


def _say(text: str, *, err: bool = False, multiline: bool = False) -> None:
    """A line for people. It may hold what a scanned server chose (a certificate's CN
    or a version in an event summary) or what an API user typed (a monitor's or a
    notifier's name): every character that could drive a terminal is made visible, as
    in the tables (issue 15 #2; --json output is escaped by json.dumps)."""
    click.echo(escape_terminal(text, multiline=multiline), err=err)


def _fail(message: str, code: int = 2) -> None:
    _say(f"error: {message}", err=True, multiline=True)  # a query error's caret line
    sys.exit(code)


@contextlib.contextmanager
def _store(db: str | None) -> Iterator[Store]:
    store = open_store(db)
    try:
        yield store
    except ScopeError as exc:
        _fail(f"refused: {exc}", 3)
    except QuerySyntaxError as exc:
        _fail(str(exc), 2)
    except (LookupError, ValueError, TriggerError) as exc:
        _fail(str(exc), 2)
    finally:
        store.close()


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def scan_options(fn: F) -> F:
    """What a monitor scans, and how fast: the options `netatlas scan` has for it."""
    for option in reversed((
        click.option("--targets", "-t", multiple=True, help="Address, CIDR, range or name "
                     "(repeatable; comma-separated lists too)."),
        click.option("-p", "--ports", default=None, help="Ports, nmap syntax (default 1-1024)."),
        click.option("--exclude-ports", default=None, help="Ports never probed."),
        click.option("--allow", multiple=True, help="CIDR/range the monitor may scan."),
        click.option("--exclude", multiple=True, help="CIDR/range never to touch."),
        click.option("--every", default=None, help="How often: 90s, 30m, 6h, 1d, 2w."),
        click.option("--trigger", "triggers", multiple=True,
                     help="Alert on: a trigger name, risk:SEVERITY or query:QUERY "
                          "(repeatable; `monitor triggers` lists them)."),
        click.option("--notify", "notifiers", multiple=True,
                     help="Notifier id to alert (repeatable; `monitor notifier add`)."),
        click.option("--rate", type=float, default=None, help="Probes per second."),
        click.option("--timeout", type=float, default=None, help="Connect time-out, s."),
        click.option("--banner-wait", type=float, default=None, help="Greeting wait, s."),
        click.option("--expiring-days", type=float, default=None,
                     help="A certificate expiring within this many days is an event (30)."),
    )):
        fn = option(fn)
    return fn


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _apply(m: Monitor, targets: tuple[str, ...], ports: str | None,
           exclude_ports: str | None, allow: tuple[str, ...], exclude: tuple[str, ...],
           every: str | None, triggers: tuple[str, ...], notifiers: tuple[str, ...],
           rate: float | None, timeout: float | None, banner_wait: float | None,
           expiring_days: float | None) -> Monitor:
    if targets:
        m.targets = _split(targets)
    if allow:
        m.allow = _split(allow)
    if exclude:
        m.exclude = _split(exclude)
    if ports is not None:
        m.ports = ports
    if exclude_ports is not None:
        m.exclude_ports = exclude_ports
    if every is not None:
        m.every = parse_duration(every)
    if triggers:
        m.triggers = {t: m.triggers.get(t, {}) for t in triggers}
    if notifiers:
        m.notifiers = _split(notifiers)
    for name, value in (("rate", rate), ("timeout", timeout), ("banner_wait", banner_wait)):
        if value is not None:
            m.options[name] = value
    if expiring_days is not None:
        m.expiring_days = expiring_days
    return m


def _show(m: Monitor, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(m.to_dict(), default=str))
        return
    state = "active" if m.enabled else "paused"
    _say(f"{m.id}  {m.name}  ({state}, every {format_duration(m.every)})")
    _say(f"  targets   {', '.join(m.targets)}  ports {m.ports or '1-1024'}"
         + (f" minus {m.exclude_ports}" if m.exclude_ports else ""))
    _say(f"  allow     {', '.join(m.allow)}"
         + (f"  exclude {', '.join(m.exclude)}" if m.exclude else ""))
    _say(f"  triggers  {', '.join(m.triggers) or '-'}")
    for t, conf in m.triggers.items():
        if conf.get("ignore"):
            _say(f"    {t} ignores {', '.join(conf['ignore'])}")
    _say(f"  notify    {', '.join(m.notifiers) or '-'}")
    _say(f"  next run  {_when(m.next_run)}   last run {_when(m.last_run)}"
         f"   runs {m.runs}" + (f"   last scan {m.last_scan_id}" if m.last_scan_id else ""))
    if m.last_error:
        _say(f"  error     {m.last_error}")


@click.group("monitor")
def monitor() -> None:
    """Continuous monitoring: scheduled scans, change events, alerts."""


@monitor.command("create")
@click.argument("name")
@scan_options
@click.option("--start-in", default=None, help="First run after this long (default: now).")
@db_option
@json_option
def create_cmd(name: str, start_in: str | None, db: str | None, as_json: bool,
               **given: Any) -> None:
    """Create monitor NAME: a scan definition run on a schedule."""
    with _store(db) as store:
        m = _apply(Monitor(name=name, targets=[], allow=[]), **given)
        if not m.targets or not m.allow:
            _fail("name --targets and --allow (the monitor's scope)")
        start = time.time() + parse_duration(start_in) if start_in else None
        _show(svc.create(store, m, start), as_json)


@monitor.command("edit")
@click.argument("ref")
@scan_options
@click.option("--name", default=None, help="A new name.")
@click.option("--ignore", nargs=2, multiple=True, metavar="TRIGGER IP:PORT",
              help="Do not alert TRIGGER for this endpoint (repeatable).")
@click.option("--unignore", nargs=2, multiple=True, metavar="TRIGGER IP:PORT")
@db_option
@json_option
def edit_cmd(ref: str, name: str | None, ignore: tuple[tuple[str, str], ...],
             unignore: tuple[tuple[str, str], ...], db: str | None, as_json: bool,
             **given: Any) -> None:
    """Change a monitor (options given replace its own; --trigger lists replace)."""
    with _store(db) as store:
        m = _apply(svc.get(store, ref), **given)
        if name:
            m.name = name
        for trigger, endpoint in ignore:
            entry = m.triggers.setdefault(trigger, {})
            entry["ignore"] = sorted(set(entry.get("ignore", [])) | {endpoint})
        for trigger, endpoint in unignore:
            entry = m.triggers.get(trigger, {})
            entry["ignore"] = [e for e in entry.get("ignore", []) if e != endpoint]
        _show(svc.save(store, m), as_json)


@monitor.command("list")
@db_option
@json_option
def list_cmd(db: str | None, as_json: bool) -> None:
    """Every monitor, one a line."""
    with _store(db) as store:
        for m in svc.all_monitors(store):
            if as_json:
                click.echo(json.dumps(m.to_dict(), default=str))
            else:
                _say(f"{m.id}  {m.name:<20} {'active' if m.enabled else 'paused':<7}"
                     f"every {format_duration(m.every):<5} next {_when(m.next_run)}"
                     f"  {', '.join(m.targets)}")


@monitor.command("show")
@click.argument("ref")
@db_option
@json_option
def show_cmd(ref: str, db: str | None, as_json: bool) -> None:
    """One monitor and its latest events."""
    with _store(db) as store:
        m = svc.get(store, ref)
        _show(m, as_json)
        if not as_json:
            for e in svc.find_events(store, monitor_id=m.id, limit=10):
                _say(f"  {_when(e.ts)}  {e.kind:<16} {e.doc.get('summary')}")


def _simple(name: str, doc: str, action: Callable[[Store, str], Monitor], word: str) -> None:
    @monitor.command(name, help=doc)
    @click.argument("ref")
    @db_option
    def command(ref: str, db: str | None) -> None:
        with _store(db) as store:
            m = action(store, ref)
            _say(f"{word} {m.id} ({m.name})")


_simple("pause", "Stop scheduling a monitor.", lambda s, r: svc.set_enabled(s, r, False),
        "paused")
_simple("resume", "Schedule a paused monitor again.",
        lambda s, r: svc.set_enabled(s, r, True), "resumed")
_simple("delete", "Delete a monitor (its events stay).", svc.delete, "deleted")


@monitor.command("run-now")
@click.argument("ref")
@db_option
@json_option
def run_now_cmd(ref: str, db: str | None, as_json: bool) -> None:
    """Run a monitor once, now, in the foreground; print its events and send alerts."""
    with _store(db) as store:
        m = svc.get(store, ref)
        result = asyncio.run(run_monitor(store, m))
        if result.error:
            _fail(result.error, 3)
        asyncio.run(deliver_due(store, Backoff()))
        for e in result.events:
            if as_json:
                click.echo(json.dumps(svc.event_dict(e), default=str))
            else:
                _say(f"{e.kind:<16} {e.doc.get('summary')}"
                     + (f"  [{', '.join(e.doc['triggers'])}]"
                        if e.doc.get("triggers") else ""))
        _say(f"scan {result.scan_id}: {len(result.events)} events", err=True)


@monitor.command("daemon")
@click.option("--tick", type=float, default=1.0, show_default=True,
              help="Seconds between looks at what is due (with --broker: between beat's "
                   "ticks).")
@click.option("--max-runs", type=int, default=None,
              help="Monitor runs at once [4; with --broker, runs on the workers at once: "
                   "64].")
@click.option("--retry-base", type=float, default=10.0, show_default=True,
              help="First retry of a failed delivery after this many seconds (doubling).")
@click.option("--retry-cap", type=float, default=600.0, show_default=True)
@click.option("--give-up", default="2d", show_default=True,
              help="A delivery still failing this long after its event is given up.")
@click.option("--broker", envvar="NETATLAS_BROKER", default=None, metavar="URL",
              help="Schedule through Celery beat and run each scan on a cluster's "
                   "workers: redis://HOST:6379/0 (needs a PostgreSQL --db).")
@click.option("--shards", type=int, default=1, show_default=True,
              help="With --broker: shards per run's scan.")
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="With --broker: where beat keeps its schedule file (default: a "
                   "temporary folder).")
@db_option
def daemon_cmd(tick: float, max_runs: int | None, retry_base: float, retry_cap: float,
               give_up: str, broker: str | None, shards: int, state_dir: str | None,
               db: str | None) -> None:
    """Run due monitors and send due alerts until interrupted: on this machine, or with
    --broker through Celery beat with the scans on a cluster's workers."""
    if broker:
        _broker_daemon(broker, db, tick, max_runs or 64, shards, state_dir,
                       Backoff(retry_base, retry_cap, parse_duration(give_up)))
        return
    max_runs = max_runs or 4
    with _store(db) as store:
        backoff = Backoff(retry_base, retry_cap, parse_duration(give_up))

        def said(result: Any) -> None:
            m = result.monitor
            _say(f"{_when(time.time())} {m.name} ({m.id}): "
                 + (result.error or f"scan {result.scan_id}, {len(result.events)} events"),
                 err=True)

        daemon = Daemon(store, tick=tick, max_runs=max_runs, backoff=backoff, on_run=said)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await daemon.run(stop)

        _say(f"monitor daemon on {store.url}: {len(svc.all_monitors(store))} monitors",
             err=True)
        asyncio.run(main())


def _broker_daemon(broker: str, db: str | None, tick: float, max_runs: int, shards: int,
                   state_dir: str | None, backoff: Backoff) -> None:
    import logging
    from pathlib import Path

    import redis

    from netatlas.cluster import beat
    from netatlas.monitor.broker import BrokerScheduler
    from netatlas.store import mask_url

    with _store(db) as store:
        client = redis.Redis.from_url(broker)
        try:
            client.ping()
        except redis.RedisError as exc:
            _fail(f"broker {mask_url(broker)}: {exc}")
        finally:
            client.close()
        scheduler = BrokerScheduler(store, broker, shards=shards, max_runs=max_runs,
                                    backoff=backoff)
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
        app = beat.make_beat_app(broker, tick)
        beat.register_tick(app, scheduler)
        _say(f"monitor daemon on {mask_url(store.url)} through {mask_url(broker)}: "
             f"{len(svc.all_monitors(store))} monitors, a tick every {tick:g} s",
             err=True)
        halt_sender = send_in_thread(Sender(store, backoff), tick)
        try:
            beat.run(app, state_dir=Path(state_dir) if state_dir else None)
        finally:
            halt_sender()
            scheduler.close()


@monitor.command("triggers")
def triggers_cmd() -> None:
    """The triggers a monitor can alert on."""
    for t in TRIGGERS:
        _say(f"{t.name:<26} {t.description}")


@monitor.group("notifier")
def notifier() -> None:
    """Where alerts go: webhook, email, slack."""


@notifier.command("add")
@click.argument("provider")
@click.option("--arg", "-a", "args", multiple=True, metavar="KEY=VALUE",
              help="Provider argument: webhook url=, secret=; email to=, host=, port=, "
                   "username=, password=, starttls=, ca_file=, from=; slack webhook_url=.")
@click.option("--description", default="")
@db_option
def notifier_add(provider: str, args: tuple[str, ...], description: str,
                 db: str | None) -> None:
    """Add a notifier; prints its id."""
    parsed = dict(a.split("=", 1) for a in args if "=" in a)
    if len(parsed) != len(args):
        _fail("--arg takes KEY=VALUE")
    with _store(db) as store:
        _say(svc.add_notifier(store, provider, parsed, description).id)


@notifier.command("list")
@db_option
@json_option
def notifier_list(db: str | None, as_json: bool) -> None:
    with _store(db) as store:
        for n in monitor_tables(store).list_notifiers():
            args = {k: ("***" if k in ("secret", "password") else v)
                    for k, v in n.doc.get("args", {}).items()}
            if as_json:
                click.echo(json.dumps({"id": n.id, "provider": n.provider, "args": args,
                                       "description": n.doc.get("description", "")}))
            else:
                _say(f"{n.id}  {n.provider:<8} {n.doc.get('description', '')}  {args}")


@notifier.command("remove")
@click.argument("notifier_id")
@db_option
def notifier_remove(notifier_id: str, db: str | None) -> None:
    with _store(db) as store:
        if not monitor_tables(store).delete_notifier(notifier_id):
            _fail(f"no notifier {notifier_id!r}")
        _say(f"removed {notifier_id}")


@monitor.command("deliveries")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@db_option
@json_option
def deliveries_cmd(status: str | None, limit: int, db: str | None, as_json: bool) -> None:
    """The delivery log: each alert to each notifier, its attempts and last error."""
    with _store(db) as store:
        for d in monitor_tables(store).deliveries(status, limit=limit):
            if as_json:
                click.echo(json.dumps({"id": d.id, "event_id": d.event_id,
                                       "notifier_id": d.notifier_id, "status": d.status,
                                       "attempts": d.attempts, "next_attempt": d.next_attempt,
                                       "created": d.created, "updated": d.updated,
                                       "last_error": d.last_error}))
            else:
                _say(f"{d.id:>6} event {d.event_id:<6} -> {d.notifier_id} {d.status:<8}"
                     f" attempts {d.attempts}  {_when(d.updated)}  {d.last_error or ''}")


@click.command("events")
@click.argument("query", required=False, default="")
@click.option("--since", default=None, help="Only this recent: 1h, 7d, ...")
@click.option("--monitor", "monitor_ref", default=None, help="One monitor (id or name).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS))
@click.option("--limit", type=int, default=100, show_default=True)
@db_option
@json_option
def events_cmd(query: str, since: str | None, monitor_ref: str | None,
               kinds: tuple[str, ...], limit: int, db: str | None, as_json: bool) -> None:
    """What changed, newest first; QUERY (the search language) keeps events whose
    service matches it, e.g. `netatlas events --since 7d 'net:10.0.0.0/8 port:22'`."""
    with _store(db) as store:
        monitor_id = svc.get(store, monitor_ref).id if monitor_ref else None
        after = time.time() - parse_duration(since) if since else None
        for e in svc.find_events(store, after, query, monitor_id, kinds, limit=limit):
            if as_json:
                click.echo(json.dumps(svc.event_dict(e), default=str))
            else:
                _say(f"{_when(e.ts)}  {e.kind:<16} {e.doc.get('summary')}")
