"""Turning stored records into what a card or a host page shows.

Records are hostile data: these helpers only pick and cut strings; escaping is left to
Jinja's autoescape (never ``|safe`` on anything from here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

BANNER_LINES = 6
BANNER_CHARS = 600
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


def get_path(record: dict[str, Any], path: str) -> Any:
    """``get_path(rec, "ssl.cert.fingerprint.sha256")``; None when any step is missing."""
    cur: Any = record
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def endpoint_label(record: dict[str, Any]) -> str:
    ip = str(record.get("ip_str", ""))
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{record.get('port')}"


def product_label(record: dict[str, Any]) -> str:
    parts = [str(p) for p in (record.get("product"), record.get("version")) if p]
    return " ".join(parts)


def banner_excerpt(record: dict[str, Any]) -> str:
    text = str(record.get("data") or "").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.strip("\n").split("\n")[:BANNER_LINES]
    out = "\n".join(lines)
    return out[:BANNER_CHARS] + ("…" if len(out) > BANNER_CHARS else "")


def title(record: dict[str, Any]) -> str:
    t = get_path(record, "http.title")
    return str(t) if t else ""


def cert_name(record: dict[str, Any]) -> str:
    subject = get_path(record, "ssl.cert.subject")
    if isinstance(subject, dict):
        return str(subject.get("CN") or subject.get("commonName") or "")
    return str(subject or "")


def risks(record: dict[str, Any]) -> list[dict[str, str]]:
    out = [r for r in record.get("risks") or [] if isinstance(r, dict)]
    return sorted(out, key=lambda r: SEVERITY_ORDER.get(str(r.get("severity")), 9))


def location_label(record: dict[str, Any]) -> str:
    loc = record.get("location")
    if not isinstance(loc, dict):
        return ""
    parts = [str(p) for p in (loc.get("city"), loc.get("country_name") or loc.get("country_code"))
             if p]
    return ", ".join(parts)


def pretty_json(value: Any) -> str:
    """Pretty JSON text; autoescape makes it inert when shown in a <pre>."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def card(record: dict[str, Any]) -> dict[str, Any]:
    """The fields a search result card shows."""
    return {
        "ip": record.get("ip_str", ""),
        "endpoint": endpoint_label(record),
        "transport": record.get("transport", "tcp"),
        "service": record.get("service") or "",
        "product": product_label(record),
        "title": title(record),
        "banner": banner_excerpt(record),
        "tags": [str(t) for t in record.get("tags") or []],
        "risks": risks(record),
        "vulns": sorted(str(v) for v in (record.get("vulns") or {})),
        "timestamp": str(record.get("timestamp", "")).replace("T", " ")[:19],
        "hostnames": [str(h) for h in record.get("hostnames") or []],
        "location": location_label(record),
        "org": str(record.get("org") or ""),
        "cert": cert_name(record),
        "status": record.get("status") or "",
    }


@contextmanager
def closing_all(iterables: list[Iterable[dict[str, Any]]]) -> Iterator[list[Any]]:
    """Close generators on exit: a builder that stops at its cap would otherwise leave
    the store's read cursor open until garbage collection."""
    try:
        yield iterables
    finally:
        for it in iterables:
            close = getattr(it, "close", None)
            if close is not None:
                close()
