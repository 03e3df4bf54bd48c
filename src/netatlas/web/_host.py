"""The host page's model: its services (latest per port) and a timeline of what changed.

``store.host(ip)`` returns every observation, newest first. Each observation is compared
with the previous one of the same (port, transport); the differences are listed as
dotted field paths with the old and new values (cut short for display).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from netatlas.web._records import card, pretty_json

IGNORED = {"timestamp", "scan_id"}
VALUE_CHARS = 160
MAX_CHANGES = 30


@dataclass(slots=True)
class Change:
    path: str
    old: str
    new: str


@dataclass(slots=True)
class Event:
    key: str  # "80/tcp"
    kind: str  # "new" | "changed" | "unchanged"
    summary: str
    changes: list[Change] = field(default_factory=list)


@dataclass(slots=True)
class Moment:
    """One point of the timeline: the observations made by one scan (or at one time)."""

    timestamp: str
    scan_id: str
    events: list[Event] = field(default_factory=list)


def service_key(record: dict[str, Any]) -> str:
    return f"{record.get('port')}/{record.get('transport', 'tcp')}"


def _strip_volatile(record: dict[str, Any]) -> dict[str, Any]:
    """Drop what changes on every visit (Date headers, the Date line of a banner)."""
    rec = {k: v for k, v in record.items() if k not in IGNORED}
    data = rec.get("data")
    if isinstance(data, str):
        rec["data"] = "\n".join(
            ln for ln in data.splitlines() if not ln.lower().startswith("date:")
        )
    http = rec.get("http")
    if isinstance(http, dict) and isinstance(http.get("headers"), dict):
        headers = {k: v for k, v in http["headers"].items() if str(k).lower() != "date"}
        rec["http"] = {**http, "headers": headers}
    return rec


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts -> {"a.b.c": compact JSON of the leaf}; lists count as leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if value is None or value == {} or value == [] or value == "":
        return {}
    if isinstance(value, str):
        return {prefix: value}
    return {prefix: json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)}


def _cut(text: str) -> str:
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    a = flatten(_strip_volatile(old))
    b = flatten(_strip_volatile(new))
    changes = [
        Change(path, _cut(a.get(path, "")), _cut(b.get(path, "")))
        for path in sorted(a.keys() | b.keys())
        if a.get(path) != b.get(path)
    ]
    return changes[:MAX_CHANGES]


def _summary(record: dict[str, Any]) -> str:
    c = card(record)
    bits = [b for b in (c["service"], c["product"], c["title"]) if b]
    if record.get("status") not in (None, "success"):
        bits.append(str(record["status"]))
    return " · ".join(bits)


def services(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest observation of each service, newest first, ready for the template."""
    seen: set[str] = set()
    out = []
    for rec in records:  # newest first
        key = service_key(rec)
        if key in seen:
            continue
        seen.add(key)
        http = rec.get("http") if isinstance(rec.get("http"), dict) else None
        ssl = rec.get("ssl") if isinstance(rec.get("ssl"), dict) else None
        ssh = rec.get("ssh") if isinstance(rec.get("ssh"), dict) else None
        out.append({
            "key": key,
            "card": card(rec),
            "banner": str(rec.get("data") or ""),
            "http": pretty_json(http) if http else "",
            "cert": pretty_json(ssl.get("cert")) if ssl and ssl.get("cert") else "",
            "tls": pretty_json({k: v for k, v in ssl.items() if k != "cert"}) if ssl else "",
            "ssh": pretty_json(ssh) if ssh else "",
            "record": pretty_json(rec),
        })
    return out


def timeline(records: list[dict[str, Any]]) -> list[Moment]:
    """Moments newest first; each event compares with the same service's previous record."""
    oldest_first = list(reversed(records))
    previous: dict[str, dict[str, Any]] = {}
    moments: list[Moment] = []
    for rec in oldest_first:
        scan_id = str(rec.get("scan_id") or "")
        ts = str(rec.get("timestamp", "")).replace("T", " ")[:19]
        if not moments or moments[-1].scan_id != scan_id or not scan_id:
            moments.append(Moment(timestamp=ts, scan_id=scan_id))
        key = service_key(rec)
        before = previous.get(key)
        if before is None:
            event = Event(key, "new", _summary(rec))
        else:
            changes = diff(before, rec)
            event = Event(key, "changed" if changes else "unchanged", _summary(rec), changes)
        moments[-1].events.append(event)
        previous[key] = rec
    moments.reverse()
    return moments
