"""``netatlas serve`` (API + web UI) and ``netatlas keys`` (API keys). Standalone click
commands; cli/main.py registers them with ``cli.add_command``."""

from __future__ import annotations

import ipaddress
import json
import sys
from datetime import UTC, datetime

import click

from netatlas.api import _limits as limits
from netatlas.cli.options import db_option


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--open", "open_access", is_flag=True,
              help="Serve without API keys (only on a loopback address, to loopback clients).")
@click.option("--allow", multiple=True,
              help="CIDR/range API scans may target (repeatable); none = API starts no scans.")
@click.option("--geoip", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="MaxMind-format .mmdb (City/Country/ASN); repeatable.")
@click.option("--rate-limit", type=click.FloatRange(min=0), default=limits.RATE,
              show_default=True, help="Requests per second per key (0 = unlimited).")
@click.option("--burst", type=click.IntRange(min=1), default=limits.BURST, show_default=True,
              help="Requests a key may make at once before the rate applies.")
@click.option("--auth-fail-rate", type=click.FloatRange(min=0), default=limits.AUTH_FAIL_RATE,
              show_default=True,
              help="Failed key checks per second per client address, once past "
                   "--auth-fail-burst; then 429 with Retry-After (0 = unlimited).")
@click.option("--auth-fail-burst", type=click.IntRange(min=1), default=limits.AUTH_FAIL_BURST,
              show_default=True, help="Failed key checks a client address may make at once.")
@click.option("--max-queries", type=click.IntRange(min=1), default=limits.MAX_QUERIES,
              help="Requests reading the store at once (default: the store's reader pool, "
                   "SQLite 2 per core and at least 4, PostgreSQL 8).")
@click.option("--max-waiting", type=click.IntRange(min=0), default=limits.MAX_WAITING,
              show_default=True,
              help=f"Requests that may wait for a turn, in order; past them, or after "
                   f"{limits.MAX_WAIT:g} s waiting, 503 with Retry-After.")
@click.option("--broker", envvar="NETATLAS_BROKER", default=None, metavar="URL",
              help="Send scans started through the API to a cluster's workers "
                   "(README \"Scale-out\"; needs a PostgreSQL --db).")
def serve(db: str | None, host: str, port: int, open_access: bool, allow: tuple[str, ...],
          geoip: tuple[str, ...], rate_limit: float, burst: int, auth_fail_rate: float,
          auth_fail_burst: int, max_queries: int | None, max_waiting: int,
          broker: str | None) -> None:
    """Serve the REST API, the Shodan-compatible API and the web UI."""
    if open_access and not _is_loopback(host):
        click.echo(f"refused: --open serves data without a key; {host} is not a loopback "
                   "address", err=True)
        sys.exit(2)
    import uvicorn

    from netatlas.api import create_app

    try:
        app = create_app(db, open_access=open_access, allow=list(allow),
                         geoip=list(geoip) or None, rate=rate_limit, burst=burst,
                         auth_fail_rate=auth_fail_rate, auth_fail_burst=auth_fail_burst,
                         max_queries=max_queries, max_waiting=max_waiting, broker=broker)
    except Exception as exc:  # a bad allow list or geo db: say why, do not trace back
        click.echo(f"cannot start: {exc}", err=True)
        sys.exit(2)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"netatlas serving {app.state.services.db} on http://{shown}:{port}/ "
               f"(API /api/v1, Shodan-compatible /shodan, docs /docs"
               f"{', OPEN: no key needed from loopback' if open_access else ''})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                server_header=False)


@click.group()
def keys() -> None:
    """API keys: create (shown once), list, revoke."""


@keys.command("create")
@click.option("--role", type=click.Choice(["read", "scan", "admin"]), default="read",
              show_default=True, help="read: search; scan: also start scans; admin: all.")
@click.option("--name", default="", help="A label to recognise the key by.")
@click.option("--rate", type=float, default=None, help="This key's requests/s (default: server's).")
@click.option("--burst", type=click.IntRange(min=1), default=None)
@db_option
@click.option("--json", "as_json", is_flag=True)
def keys_create(role: str, name: str, rate: float | None, burst: int | None, db: str | None,
                as_json: bool) -> None:
    """Create a key and print it — the only time it is shown."""
    from netatlas.store import open_store

    store = open_store(db)
    try:
        secret, key = store.create_key(role, name, rate, burst)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"key": secret, **key.to_dict()}))
    else:
        click.echo(secret)
        click.echo(f"id {key.id}, role {key.role} (store it now: it is not shown again)",
                   err=True)


@keys.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True)
def keys_list(db: str | None, as_json: bool) -> None:
    """List keys (ids and roles; never the secrets)."""
    from netatlas.cli.readstore import open_existing

    store = open_existing(db)
    try:
        rows = store.list_keys()
    finally:
        store.close()
    for k in rows:
        if as_json:
            click.echo(json.dumps(k.to_dict()))
            continue
        created = datetime.fromtimestamp(k.created, UTC).isoformat(timespec="seconds")
        state = "revoked" if k.revoked else "live"
        rate = f" rate={k.rate}/s" if k.rate else ""
        click.echo(f"{k.id}  {k.role:<5}  {state:<7}  {created}  {k.name!r}{rate}")


@keys.command("revoke")
@click.argument("key_id")
@db_option
def keys_revoke(key_id: str, db: str | None) -> None:
    """Revoke the key with id KEY_ID (as shown by `keys list`)."""
    from netatlas.cli.readstore import open_existing

    store = open_existing(db)  # no store holds no key to revoke
    try:
        done = store.revoke_key(key_id)
    finally:
        store.close()
    if not done:
        click.echo(f"no live key with id {key_id!r}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key_id}")


@click.group()
def standalone() -> None:
    """netatlas serve / keys, runnable before they are registered in the main CLI."""


standalone.add_command(serve)
standalone.add_command(keys)

if __name__ == "__main__":
    standalone()
