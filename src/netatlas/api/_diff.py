"""What changed on a host between two times, from its stored history.

The state of a host at time T is, per (port, transport), the newest observation at or
before T. A port counts as closed at T when a later scan that saw the host, and whose
port list covered that port, did not see it open. Scans whose port list cannot be
read are not taken as evidence of anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from netatlas.pipeline import ScanConfig
from netatlas.scope import PortSet, exclude_ports, parse_ports, top_ports

# the facts compared between two observations of one port (dotted paths into a record)
COMPARED = (
    "service", "product", "version", "cpe", "os", "devicetype", "status",
    "http.status", "http.title", "http.server", "http.favicon.hash", "http.html_hash",
    "ssl.version", "ssl.cert.fingerprint.sha256", "ssl.cert.expires", "ssh.fingerprint_sha256",
    "ssh.version_string", "tags", "vulns",
)

Key = tuple[int, str]


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 date or date-time (naive = UTC)."""
    if text is None or text == "":
        return None
    ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _when(rec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(rec["timestamp"]).replace(tzinfo=UTC)


def get_path(rec: dict[str, Any], path: str) -> Any:
    cur: Any = rec
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if isinstance(cur, dict) and path == "vulns":
        return sorted(cur)
    return cur


def scan_ports(args: dict[str, Any]) -> set[Key] | None:
    """The (port, transport) pairs a scan probed, or None if unknown."""
    try:
        cfg = ScanConfig.from_args(args)
        ports: PortSet = top_ports(cfg.top_ports) if cfg.top_ports else parse_ports(
            cfg.ports or "1-1024"
        )
        if cfg.exclude_ports:
            ports = exclude_ports(ports, cfg.exclude_ports)
        return {(p, t) for p, t in ports.pairs()}
    except Exception:
        return None


def _state(history: list[dict[str, Any]], at: datetime,
           coverage: Callable[[str], set[Key] | None]) -> dict[Key, dict[str, Any]]:
    newest: dict[Key, dict[str, Any]] = {}
    scans_seen: dict[str, datetime] = {}  # scans that saw this host, and when
    for rec in history:
        when = _when(rec)
        if when > at:
            continue
        key = (int(rec["port"]), str(rec.get("transport", "tcp")))
        if key not in newest or when > _when(newest[key]):
            newest[key] = rec
        sid = str(rec.get("scan_id", ""))
        if sid and (sid not in scans_seen or when > scans_seen[sid]):
            scans_seen[sid] = when
    by_scan: dict[str, set[Key]] = {}
    for rec in history:
        if _when(rec) <= at:
            by_scan.setdefault(str(rec.get("scan_id", "")), set()).add(
                (int(rec["port"]), str(rec.get("transport", "tcp")))
            )
    state: dict[Key, dict[str, Any]] = {}
    for key, rec in newest.items():
        last = _when(rec)
        closed = False
        for sid, when in scans_seen.items():
            if when <= last or key in by_scan.get(sid, set()):
                continue
            covered = coverage(sid)
            if covered is not None and key in covered:
                closed = True
                break
        if not closed:
            state[key] = rec
    return state


def _summary(rec: dict[str, Any]) -> dict[str, Any]:
    return {"port": rec["port"], "transport": rec.get("transport", "tcp"),
            "timestamp": rec["timestamp"], "service": rec.get("service"),
            "product": rec.get("product"), "version": rec.get("version")}


def host_diff(history: list[dict[str, Any]], since: datetime, until: datetime,
              coverage: Callable[[str], set[Key] | None]) -> dict[str, Any]:
    before = _state(history, since, coverage)
    after = _state(history, until, coverage)
    opened = [_summary(after[k]) for k in sorted(after.keys() - before.keys())]
    closed = [_summary(before[k]) for k in sorted(before.keys() - after.keys())]
    changed, unchanged = [], []
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        changes = {
            path: {"from": get_path(a, path), "to": get_path(b, path)}
            for path in COMPARED
            if get_path(a, path) != get_path(b, path)
        }
        if changes:
            changed.append({"port": key[0], "transport": key[1], "from_timestamp": a["timestamp"],
                            "to_timestamp": b["timestamp"], "changes": changes})
        else:
            unchanged.append({"port": key[0], "transport": key[1]})
    return {
        "ports_before": sorted(k[0] for k in before),
        "ports_after": sorted(k[0] for k in after),
        "opened": opened, "closed": closed, "changed": changed, "unchanged": unchanged,
    }
