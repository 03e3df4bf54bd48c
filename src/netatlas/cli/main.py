"""``netatlas`` — the command line front. Thin: every command calls the same core
(pipeline, store, query, lab) the API and web UI use."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from netatlas import pipeline
from netatlas.cli import escape, render
from netatlas.cli.dashquery import QueryCommand
from netatlas.cli.options import db_option
from netatlas.cli.readstore import open_existing
from netatlas.cli.runner import record_runner, runner_gone
from netatlas.cli.tally import WarningTally, tallied
from netatlas.model import Scan
from netatlas.query import QuerySyntaxError
from netatlas.scope import ScopeError
from netatlas.scope.refusals import describe as describe_refusals
from netatlas.store import CursorError, Store, open_store

console = Console()
err_console = Console(stderr=True)

EXIT_QUERY_ERROR = 2
EXIT_SCOPE_ERROR = 3
EXIT_INTERRUPTED = 130

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")


def _fail(message: str, code: int) -> None:
    # soft wrap: a query error's caret line must stay under the column it points at
    err_console.print(render.safe(message, 10_000, multiline=True), style="red",
                      soft_wrap=True)
    sys.exit(code)


def _query_error(exc: QuerySyntaxError) -> None:
    _fail(str(exc), EXIT_QUERY_ERROR)


def _check_query(query: str) -> None:
    """A bad query is the user's first mistake to hear about: said (exit 2) before the
    store is looked for, so a typo in both gets the query's column first."""
    from netatlas.query import parse

    try:
        parse(query)
    except QuerySyntaxError as exc:
        _query_error(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netatlas")
def cli() -> None:
    """netatlas: survey the networks you may scan, identify every service, search it all."""


# -- scan ------------------------------------------------------------------------------
@cli.command()
@click.argument("targets", nargs=-1)
@click.option("-p", "--ports", default=None,
              help="Ports, nmap syntax: 22,80-90 | - (all) | T:22,U:53. Default 1-1024.")
@click.option("--top-ports", type=click.IntRange(min=1), default=None,
              help="The N most common ports.")
@click.option("--exclude-ports", default=None, help="Ports never to probe, nmap syntax.")
@click.option("--allow", multiple=True, help="CIDR/range you may scan (required; repeatable).")
@click.option("--allow-file", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File of allowed ranges, one per line.")
@click.option("--exclude", multiple=True, help="CIDR/range never to touch (repeatable).")
@click.option("--exclude-file", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File of denied ranges, one per line.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Global probe rate limit, probes/s.")
@click.option("--connect", "method", flag_value="connect", default=True,
              help=f"TCP discovery by {pipeline.DISCOVER_METHODS['connect']}; the default.")
@click.option("--syn", "method", flag_value="syn",
              help=f"TCP discovery by {pipeline.DISCOVER_METHODS['syn']}; --timeout is the "
                   "wait for replies after each send (the cooldown), --retries re-sends "
                   "to the silent.")
@click.option("--concurrency", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Connects in flight at once.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True,
              help="Connect time-out per probe, seconds.")
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Retries for probes that time out.")
@click.option("--seed", type=int, default=0, help="Permutation seed (0 = random).")
@click.option("--shard", default="0/1", show_default=True,
              help="Scan only shard i of N of the permutation, as i/N.")
@click.option("--no-grab", is_flag=True, help="Only find open ports; do not talk to them.")
@click.option("--grab-concurrency", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--banner-wait", type=click.FloatRange(min=0), default=1.5, show_default=True,
              help="Seconds to wait for a server's greeting.")
@click.option("--geoip", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="MaxMind-format database(s) for location / ASN / org (repeatable).")
@click.option("--redact-pii", is_flag=True,
              help="Store e-mail addresses, phone and ID numbers masked.")
@click.option("--proxy-canary", default=None, metavar="URL",
              help="http:// URL inside the scope that proxies are asked to fetch "
                   "(open-proxy check); default: the first HTTP service this scan "
                   "finds inside its scope.")
@click.option("--check-default-logins", is_flag=True, default=False,
              help="INTRUSIVE, off by default: log in to identified services with a short "
                   "list of vendor default credentials (MySQL/MariaDB root with no "
                   "password, PostgreSQL postgres, RabbitMQ guest, Tomcat manager, Grafana "
                   "admin, Redis 'foobared'), one attempt each; a login that works is a "
                   "critical default-login finding. Only with permission to log in.")
@click.option("--resume", "resume_id", default=None, help="Continue an interrupted scan.")
@click.option("--broker", envvar="NETATLAS_BROKER", default=None, metavar="URL",
              help="Run on the workers of a cluster: its Celery broker, redis://HOST:6379/0 "
                   "(needs a PostgreSQL --db).")
@click.option("--shards", type=click.IntRange(min=1), default=8, show_default=True,
              help="With --broker: shards (tasks) the scan is cut into.")
@click.option("--detach", is_flag=True, help="With --broker: print the scan id and return.")
@db_option
@json_option
def scan(targets: tuple[str, ...], ports: str | None, top_ports: int | None,
         exclude_ports: str | None, allow: tuple[str, ...], allow_file: tuple[str, ...],
         exclude: tuple[str, ...], exclude_file: tuple[str, ...], rate: float | None,
         method: str, concurrency: int, timeout: float, retries: int, seed: int, shard: str,
         no_grab: bool, grab_concurrency: int, banner_wait: float, geoip: tuple[str, ...],
         redact_pii: bool, proxy_canary: str | None, check_default_logins: bool,
         resume_id: str | None,
         broker: str | None, shards: int, detach: bool, db: str | None, as_json: bool) -> None:
    """Discover, grab and identify services on TARGETS (addresses, CIDRs, ranges, names)."""
    store = open_store(db)
    try:
        if resume_id:
            if targets:
                _fail("--resume takes no targets: it continues with the scan's own", 2)
            if broker:
                from netatlas.cli.distributed import distributed_resume

                distributed_resume(store, broker, resume_id, detach, as_json)
                return
            scan_obj, cfg, plan = pipeline.resume_scan(store, resume_id, _given_pace())
        else:
            if not targets:
                _fail("name at least one target (or --resume SCAN_ID)", 2)
            cfg = pipeline.ScanConfig(
                targets=list(targets), allow=list(allow), allow_files=list(allow_file),
                exclude=list(exclude), exclude_files=list(exclude_file), ports=ports,
                top_ports=top_ports, exclude_ports=exclude_ports, seed=seed,
                shard=_parse_shard(shard), rate=rate, method=method, concurrency=concurrency,
                timeout=timeout, retries=retries, grab=not no_grab,
                grab_concurrency=grab_concurrency, banner_wait=banner_wait,
                geoip=[str(Path(g).resolve()) for g in geoip], redact_pii=redact_pii,
                proxy_canary=proxy_canary, check_default_logins=check_default_logins,
            )
            if broker:  # on a cluster's workers (README "Scale-out")
                from netatlas.cli.distributed import distributed_scan

                distributed_scan(store, cfg, broker, shards, detach, as_json)
                return
            scan_obj, plan = pipeline.start_scan(store, cfg)
    except ScopeError as exc:
        store.close()
        _fail(f"refused: {exc}", EXIT_SCOPE_ERROR)
    except (LookupError, ValueError) as exc:
        store.close()
        _fail(str(exc), 2)

    _run_scan(store, scan_obj, cfg, plan, as_json)


def _given_pace() -> dict[str, Any]:
    """Scan options typed on this command line (not defaults), for --resume to apply
    (pace) or refuse (anything that would change what the scan visits)."""
    ctx = click.get_current_context()
    return {name: value for name, value in ctx.params.items()
            if name not in ("targets", "resume_id", "db", "as_json", "broker", "shards",
                            "detach")
            and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise click.BadParameter(f"expected i/N, got {text!r}", param_hint="--shard") from None
    if not (n >= 1 and 0 <= i < n):
        raise click.BadParameter(f"need 0 <= i < N, got {text!r}", param_hint="--shard")
    return i, n


def _run_scan(store: Store, scan_obj: Scan, cfg: pipeline.ScanConfig, plan: pipeline.Plan,
              as_json: bool) -> None:
    show_progress = not as_json and console.is_terminal
    progress = Progress(
        TextColumn("[bold]scan {task.fields[scan_id]}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),  # as `netatlas scans` says
        TextColumn("open {task.fields[open]}  observed {task.fields[obs]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not show_progress,
    )
    task = progress.add_task("scan", total=scan_obj.total, completed=scan_obj.done,
                             scan_id=scan_obj.id, open=0, obs=0)

    def on_progress(s: Scan) -> None:
        progress.update(task, completed=s.done, open=s.open_ports, obs=s.observations)

    if not as_json:
        err_console.print(
            f"scan {scan_obj.id}: {plan.space.size:,} endpoints in scope"
            + (f", resuming at {100 * scan_obj.done / scan_obj.total:.1f}%"
               if scan_obj.done else "")
            + f" (seed {cfg.seed}, shard {cfg.shard[0]}/{cfg.shard[1]})"
        )
    if plan.space.skipped:  # on stderr even with --json: the user must learn it
        n = plan.space.skipped
        err_console.print(
            render.safe(f"skipped {n} address{'es' if n != 1 else ''} in the deny list: "
                        + describe_refusals(plan.space.refused, n), 2_000),
            style="yellow", soft_wrap=True)
    if cfg.check_default_logins:  # said even with --json: stderr is not the JSON stream
        from netatlas.assess.intrusive import NOTICE, family_names

        err_console.print(f"{NOTICE} {', '.join(family_names())} services found in scope "
                          "(--check-default-logins)", style="bold yellow", highlight=False,
                          soft_wrap=True)
    record_runner(store, scan_obj.id)  # `netatlas scans` tells a killed scan by it
    with tallied() as warnings:
        try:
            _drive(store, scan_obj, cfg, plan, progress, on_progress)
        except SystemExit:  # interrupted or failed: what was counted is still said
            _say_warnings(warnings)
            raise
    summary = {
        "scan_id": scan_obj.id, "status": scan_obj.status, "endpoints": plan.space.size,
        "open": scan_obj.open_ports, "observations": scan_obj.observations,
        "done": scan_obj.done, "total": scan_obj.total,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        err_console.print(
            f"scan {scan_obj.id} {scan_obj.status}: {_done_total(scan_obj)} done, "
            f"{scan_obj.open_ports} open, {scan_obj.observations} observations stored"
        )
    _say_warnings(warnings)


def _say_warnings(warnings: WarningTally) -> None:
    for line in warnings.lines():
        err_console.print(render.safe(f"warning: {line}", 500), style="yellow",
                          soft_wrap=True)


def _drive(store: Store, scan_obj: Scan, cfg: pipeline.ScanConfig, plan: pipeline.Plan,
           progress: Progress, on_progress: Callable[[Scan], None]) -> None:
    """Run the scan; an interruption or a failure is stored, said, and ends the
    command."""
    try:
        with progress:
            asyncio.run(pipeline.run(store, scan_obj, cfg, plan, on_progress))
    except KeyboardInterrupt:
        store.close()
        err_console.print(
            f"interrupted at {_done_total(scan_obj)}: {scan_obj.observations} observations "
            "kept. "
            f"Resume with: netatlas scan --resume {scan_obj.id}"
        )
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # the runner marks what fails inside its loop; this covers the rest (a GeoIP
        # file that is none, a discoverer refusing its options): never "running" for ever
        scan_obj.status = "failed"
        scan_obj.finished = None
        store.update_scan(scan_obj)
        store.close()
        _fail(f"scan {scan_obj.id} failed: {type(exc).__name__}: {exc}", 1)
    store.close()


def _done_total(s: Scan) -> str:
    """Progress in the unit the store keeps (permutation positions), said the same way
    by the scan and by `netatlas scans`."""
    return f"{s.done:,}/{s.total:,}"


@cli.command("scans")
@db_option
@json_option
def scans_cmd(db: str | None, as_json: bool) -> None:
    """List scans and their progress (a distributed scan: each shard too)."""
    from netatlas.store.shards import shard_tables

    store = open_existing(db)
    try:
        rows = store.scans()
        for s in rows:
            if s.status == "running" and runner_gone(store, s.id):
                s.status = "interrupted"  # its process died without saying so
        tables = shard_tables(store)
        shards = {s.id: tables.of_scan(s.id) for s in rows} if tables is not None else {}
    finally:
        store.close()
    if as_json:
        for s in rows:
            d = _scan_dict(s)
            if shards.get(s.id):
                d["shards"] = [r.to_dict() for r in shards[s.id]]
            click.echo(json.dumps(d))
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)  # no side borders: room for the whole id
    progress = {s.id: f"{_done_total(s)} ({100 * s.done / s.total:.0f}%)" if s.total else "-"
                for s in rows}

    def whole(col: str, values: Iterable[str]) -> None:  # never cut: id is what --resume takes
        table.add_column(col, no_wrap=True, min_width=max(map(len, [col, *values])))

    whole("id", (s.id for s in rows))
    whole("status", (s.status for s in rows))
    table.add_column("started", overflow="fold")
    whole("progress", progress.values())
    table.add_column("open", no_wrap=True)
    table.add_column("obs", no_wrap=True)  # observations stored
    table.add_column("targets", overflow="fold")
    for s in rows:
        pct = progress[s.id]
        table.add_row(render.safe(s.id, 200), s.status, s.started.strftime("%Y-%m-%d %H:%M"),
                      pct, str(s.open_ports), str(s.observations),
                      render.safe(" ".join(s.args.get("targets", []))))
        for r in shards.get(s.id, []):
            pct = f"{100 * r.done / r.total:.0f}%" if r.total else "-"
            who = render.safe(f"{r.worker or ''} {r.vantage or ''} x{r.attempts}"
                              + (f" {r.error}" if r.error else ""))
            table.add_row(f"  shard {r.shard}/{r.count}", r.status, "", pct,
                          str(r.open_ports), str(r.observations), who)
    console.print(table)


def _scan_dict(s: Scan) -> dict[str, Any]:
    return {
        "id": s.id, "status": s.status, "started": s.started.isoformat(),
        "finished": s.finished.isoformat() if s.finished else None, "done": s.done,
        "total": s.total, "open": s.open_ports, "observations": s.observations, "args": s.args,
    }


# -- search / host / stats / export ----------------------------------------------------------
@cli.command(cls=QueryCommand)
@click.argument("query", default="")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--after", default=None, metavar="CURSOR",
              help="Continue after the page that printed this cursor (deep pages stay fast).")
@click.option("--help-fields", is_flag=True, help="List the search fields and syntax.")
@db_option
@json_option
def search(query: str, limit: int, offset: int, after: str | None, help_fields: bool,
           db: str | None, as_json: bool) -> None:
    """Search the latest observation of every service with the search language."""
    if help_fields:
        from netatlas.query import help_text

        click.echo(help_text())
        return
    _check_query(query)
    store = open_existing(db)
    nxt = None
    try:
        if offset:
            records = store.search(query, limit=limit, offset=offset)
        else:
            page = store.page(query, limit=limit, after=after)
            records, nxt = page.records, page.next
        total = None if as_json else store.count(query)
    except QuerySyntaxError as exc:
        store.close()
        _query_error(exc)
    except CursorError as exc:
        store.close()
        _fail(f"--after: {exc}", EXIT_QUERY_ERROR)
    store.close()
    if as_json:
        render.print_json_lines(records)
    else:
        console.print(render.results_table(records, total))
    if nxt:
        err_console.print(f"more: --after {nxt}", highlight=False)


@cli.command()
@click.argument("ip")
@click.option("--latest", is_flag=True, help="Only the newest observation per service.")
@db_option
@json_option
def host(ip: str, latest: bool, db: str | None, as_json: bool) -> None:
    """Every service seen on one host, newest first, with its history."""
    import ipaddress

    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        _fail(f"not an IP address: {ip!r}", 2)
    store = open_existing(db)
    try:
        records = store.host(ip, history=not latest)
    finally:
        store.close()
    if not records:
        _fail(f"no observations of {ip}", 1)
    if as_json:
        render.print_json_lines(records)
    else:
        render.print_host(console, ip, records)


@cli.command(cls=QueryCommand)
@click.argument("query", default="")
@click.option("--facets", default="port,service,product", show_default=True,
              help="Comma-separated facet names.")
@click.option("--size", type=click.IntRange(min=1), default=10, show_default=True,
              help="Values per facet.")
@db_option
@json_option
def stats(query: str, facets: str, size: int, db: str | None, as_json: bool) -> None:
    """Counts of the values of some fields over the results of QUERY."""
    names = [f.strip() for f in facets.split(",") if f.strip()]
    _check_query(query)
    store = open_existing(db)
    try:
        total = store.count(query)
        result = store.facets(query, names, size=size)
    except QuerySyntaxError as exc:
        store.close()
        _query_error(exc)
    except ValueError as exc:
        store.close()
        _fail(str(exc), 2)
    store.close()
    if as_json:
        out: dict[str, Any] = {
            "total": total,
            "facets": {k: [{"value": v.value, "count": v.count} for v in vs]
                       for k, vs in result.items()},
        }
        if getattr(result, "approximate", False):
            out["facets_approximate"] = True
        click.echo(json.dumps(out))
        return
    console.print(f"total: {total}")
    if getattr(result, "approximate", False):
        console.print("facet counts are estimates from a sample (over 1M matching services)")
    for name, values in result.items():
        console.print(render.facets_table(name, values))


@cli.command(cls=QueryCommand)
@click.argument("query", default="")
@click.option("--format", "fmt", default="jsonl", show_default=True,
              type=click.Choice(["jsonl", "csv", "nmap", "shodan", "internetdb-sqlite"]),
              help="jsonl / csv; nmap: nmap XML (-oX); shodan: json.gz as `shodan download`"
                   " writes; internetdb-sqlite: an offline per-IP lookup file (needs -o).")
@click.option("-o", "--output", default="-", help="File to write (default: stdout).")
@db_option
def export(query: str, fmt: str, output: str, db: str | None) -> None:
    """Write every matching record (latest per service) as JSON lines, CSV, nmap XML,
    Shodan json.gz or an InternetDB-style SQLite file."""
    from netatlas.cli.export import write_export

    if fmt == "internetdb-sqlite" and output == "-":
        _fail("--format internetdb-sqlite writes a file: give -o FILE", 2)
    if fmt == "shodan" and output == "-" and escape.is_terminal(sys.stdout):
        _fail("--format shodan writes gzip, which a terminal would run as commands: "
              "give -o FILE or a pipe", 2)
    _check_query(query)
    store = open_existing(db)
    try:
        n = write_export(store.iter_search(query), fmt, output)
    except QuerySyntaxError as exc:
        store.close()
        _query_error(exc)
    store.close()
    err_console.print(f"exported {n} {'hosts' if fmt == 'internetdb-sqlite' else 'records'}")


# -- lab ---------------------------------------------------------------------------------------
@cli.group()
def lab() -> None:
    """A local range of real services on 127.20.x.y for the demo and the tests."""


def _lab_table(services: list[Any]) -> None:
    from rich.table import Table

    table = Table()
    for col in ("name", "endpoint", "service", "product", "version", "running", "pid"):
        table.add_column(col)
    for s in services:
        table.add_row(s.name, f"{s.ip}:{s.port}", s.service, s.product, s.version or "",
                      "yes" if s.running else "no", str(s.pid or ""))
    console.print(table)


@lab.command("up")
@click.argument("names", nargs=-1)
@click.option("--installed", is_flag=True,
              help="Start only what is installed; say what is left out (a package that "
                   "conflicts with one this machine has is not installed).")
def lab_up(names: tuple[str, ...], installed: bool) -> None:
    """Start every lab service, or the NAMES given (idempotent)."""
    from netatlas.lab import Lab

    lab = Lab()
    if installed:
        for d in lab.not_installed():
            served = ", ".join(s.name for s in lab.catalogue if s.daemon == d.name)
            click.echo(f"lab: {d.name} not started, {d.binary} is not installed"
                       f" (no {served})", err=True)
    _lab_table(lab.up(names or None, installed_only=installed))


@lab.command("status")
@json_option
def lab_status(as_json: bool) -> None:
    """Show which lab services run."""
    from dataclasses import asdict

    from netatlas.lab import Lab

    services = Lab().status()
    if as_json:
        for s in services:
            click.echo(json.dumps(asdict(s), default=str))
    else:
        _lab_table(services)


@lab.command("ports")
def lab_ports() -> None:
    """Print the lab's ports as a port spec for `scan -p` (TCP and UDP)."""
    from netatlas.lab import Lab

    services = Lab().catalogue
    tcp = sorted({s.port for s in services if s.transport == "tcp"})
    udp = sorted({s.port for s in services if s.transport == "udp"})
    parts = [f"T:{','.join(map(str, tcp))}"] if tcp else []
    if udp:
        parts.append(f"U:{','.join(map(str, udp))}")
    click.echo(",".join(parts))


@lab.command("down")
@click.argument("names", nargs=-1)
def lab_down(names: tuple[str, ...]) -> None:
    """Stop the lab services this lab started (all, or the NAMES given), by PID."""
    from netatlas.lab import Lab

    Lab().down(names or None)
    console.print("lab stopped")


@cli.command()
@json_option
def fingerprints(as_json: bool) -> None:
    """List the fingerprint sources loaded and how many rules each gave."""
    from netatlas.identify import list_sources

    sources = list_sources()
    if as_json:
        for name, path, count in sources:
            click.echo(json.dumps({"source": name, "path": str(path), "rules": count}))
        return
    from rich.table import Table

    table = Table()
    for col in ("source", "path", "rules"):
        table.add_column(col)
    for name, path, count in sources:
        table.add_row(name, str(path), str(count))
    console.print(table)


@cli.command()
@json_option
def checks(as_json: bool) -> None:
    """List the risk checks: finding id, severity and title (search with risk:ID)."""
    from netatlas.assess import CHECKS

    if as_json:
        for c in CHECKS:
            click.echo(json.dumps({"id": c.id, "severity": c.severity, "title": c.title}))
        return
    from rich.table import Table

    table = Table()
    for col in ("id", "severity", "title"):
        table.add_column(col)
    for c in CHECKS:
        table.add_row(c.id, c.severity, c.title)
    console.print(table)


def _register_fronts() -> None:
    from netatlas.cli.cluster import cluster, worker
    from netatlas.cli.cve import cve
    from netatlas.cli.importer import import_cmd
    from netatlas.cli.monitor import events_cmd, monitor
    from netatlas.cli.serve import keys, serve
    from netatlas.cli.store import store_group

    cli.add_command(serve)
    cli.add_command(keys)
    cli.add_command(cve)
    cli.add_command(store_group)
    cli.add_command(import_cmd)
    cli.add_command(worker)
    cli.add_command(cluster)
    cli.add_command(monitor)
    cli.add_command(events_cmd)


_register_fronts()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
