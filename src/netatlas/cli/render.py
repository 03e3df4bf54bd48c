"""Terminal rendering of records. Every string shown came from a scanned server:
rich markup is never interpreted from it (``Text`` objects, not markup strings), and
control characters are made visible."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from netatlas import jsonlines
from netatlas.cli import escape
from netatlas.cli.escape import escape_json_terminal, escape_terminal
from netatlas.store import FacetValue


def safe(value: Any, limit: int = 80, *, multiline: bool = False) -> Text:
    """Hostile text -> a markup-free, length-capped Text with every terminal control
    made visible; a single line unless ``multiline``."""
    if value is None:
        return Text("")
    s = escape_terminal(str(value), multiline=multiline)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return Text(s)


def first_line(record: dict[str, Any]) -> str:
    http = record.get("http") or {}
    if http.get("title"):
        return str(http["title"])
    data = (record.get("data") or "").strip()
    return data.splitlines()[0] if data else ""


def endpoint(record: dict[str, Any]) -> str:
    ip = record["ip_str"]
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{record['port']}/{record['transport']}"


def print_json_lines(records: Iterable[dict[str, Any]], out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    to_terminal = escape.is_terminal(out)  # a file or a pipe gets the data as stored
    n = 0
    for rec in records:
        line = jsonlines.dumps(rec)
        out.write((escape_json_terminal(line) if to_terminal else line) + "\n")
        n += 1
    return n


CSV_COLUMNS = [
    "ip_str", "port", "transport", "timestamp", "service", "product", "version", "cpe",
    "hostnames", "tags", "title", "ssl_version", "ssl_cert_cn", "ssh_fingerprint", "data",
]


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    # on a terminal each cell is one escaped line; a file or a pipe gets the data
    cell = _terminal_cell if escape.is_terminal(out) else str
    n = 0
    for r in records:
        ssl = r.get("ssl") or {}
        cert = ssl.get("cert") or {}
        # every text cell a scanned server chose (product and version come from its
        # banner too) is kept from becoming a formula, not only the banner: a title
        # "=HYPERLINK(...)" went out as is, to the CLI's and the web UI's Export CSV
        writer.writerow([cell(v) for v in [
            r["ip_str"], r["port"], r["transport"], r["timestamp"], r.get("service") or "",
            _csv_safe(r.get("product") or ""), _csv_safe(r.get("version") or ""),
            " ".join(r.get("cpe") or []),
            _csv_safe(" ".join(r.get("hostnames") or [])), " ".join(r.get("tags") or []),
            _csv_safe((r.get("http") or {}).get("title") or ""), ssl.get("version") or "",
            _csv_safe((cert.get("subject") or {}).get("CN") or ""),
            (r.get("ssh") or {}).get("fingerprint_sha256") or "",
            _csv_safe((r.get("data") or "")[:1024]),
        ]])
        n += 1
    return n


def _terminal_cell(value: Any) -> str:
    return escape_terminal(str(value))


def _csv_safe(s: str) -> str:
    # a value opening with = + - @ (or TAB / CR, which spreadsheets skip before one)
    # must not become a spreadsheet formula (OWASP "CSV injection")
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def results_table(records: list[dict[str, Any]], total: int | None = None) -> Table:
    title = f"{len(records)} of {total} results" if total is not None else None
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("endpoint", "service", "product", "version", "title / banner", "seen"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(
            safe(endpoint(r)),
            safe(r.get("service")),
            safe(r.get("product")),
            safe(r.get("version")),
            safe(first_line(r), 60),
            safe(r["timestamp"][:19]),
        )
    return table


def facets_table(name: str, values: list[FacetValue]) -> Table:
    table = Table(title=name)
    table.add_column(name)
    table.add_column("count", justify="right")
    for fv in values:
        table.add_row(safe(fv.value), str(fv.count))
    return table


def print_host(console: Console, ip: str, records: list[dict[str, Any]]) -> None:
    """Latest observation per service first, then what changed over time."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    history: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in records:  # newest first
        key = (r["port"], r["transport"])
        latest.setdefault(key, r)
        history.setdefault(key, []).append(r)
    names = sorted({h for r in records for h in r.get("hostnames") or []})
    console.print(Text(f"{ip}" + (f"  ({', '.join(names)})" if names else ""), style="bold"))
    table = Table(show_lines=True)
    for col in ("port", "service", "product", "version", "details", "last seen", "history"):
        table.add_column(col, overflow="fold")
    for key, r in sorted(latest.items(), key=lambda kv: kv[1]["timestamp"], reverse=True):
        table.add_row(
            safe(f"{r['port']}/{r['transport']}"),
            safe(r.get("service")),
            safe(r.get("product")),
            safe(r.get("version")),
            _details(r),
            safe(r["timestamp"][:19]),
            _history(history[key]),
        )
    console.print(table)


def _details(r: dict[str, Any]) -> Text:
    lines: list[str] = []
    if cpe := r.get("cpe"):
        lines.append("cpe: " + " ".join(cpe))
    if http := r.get("http"):
        lines.append(f"http {http.get('status')}: {http.get('title') or ''}")
        if http.get("server"):
            lines.append(f"server: {http['server']}")
    if ssl := r.get("ssl"):
        cert = ssl.get("cert") or {}
        subject = (cert.get("subject") or {}).get("CN")
        lines.append(f"tls {ssl.get('version')}: CN={subject} expires {cert.get('expires')}")
    if ssh := r.get("ssh"):
        # a server that stopped before its host key: its version string, not "None None"
        key = " ".join(str(x) for x in (ssh.get("type"), ssh.get("fingerprint_sha256")) if x)
        lines.append(f"ssh {key or ssh.get('version_string') or ''}".rstrip())
    if not lines:
        lines.append(first_line(r))
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        text.append_text(safe(line, 100))
    return text


def _history(entries: list[dict[str, Any]]) -> Text:
    """One line per observation where what we identified changed, newest first."""
    text = Text()
    previous: tuple[Any, ...] | None = None
    shown = 0
    for r in reversed(entries):  # oldest first, to find changes
        state = (r.get("service"), r.get("product"), r.get("version"), r.get("status"))
        if state != previous:
            line = f"{r['timestamp'][:19]} {r.get('product') or r.get('service') or r['status']}"
            if r.get("version"):
                line += f" {r['version']}"
            text = safe(line, 60) + (Text("\n") + text if shown else Text())
            shown += 1
            previous = state
    seen = len(entries)
    suffix = Text(f"\n({seen} observation{'s' if seen != 1 else ''})", style="dim")
    return text + suffix
