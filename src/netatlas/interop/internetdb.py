"""InternetDB's per-address summary (``{ip, ports, cpes, hostnames, tags, vulns}``), as
Shodan's free InternetDB API answers it: for ``GET /internetdb/{ip}`` and the offline
``export --format internetdb-sqlite`` file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .grouping import by_address


def summary(ip: str, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The latest records of one address -> its InternetDB answer."""
    ports: set[int] = set()
    cpes: set[str] = set()
    names: set[str] = set()
    tags: set[str] = set()
    vulns: set[str] = set()
    for rec in records:
        ports.add(int(rec["port"]))
        cpes.update(c for c in rec.get("cpe23") or rec.get("cpe") or [] if isinstance(c, str))
        names.update(h for h in rec.get("hostnames") or [] if isinstance(h, str))
        tags.update(t for t in rec.get("tags") or [] if isinstance(t, str))
        v = rec.get("vulns") or {}
        vulns.update(k for k in (v if isinstance(v, dict | list) else []) if isinstance(k, str))
    return {"cpes": sorted(cpes), "hostnames": sorted(names), "ip": ip,
            "ports": sorted(ports), "tags": sorted(tags), "vulns": sorted(vulns)}


def summaries(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for ip, recs in by_address(records):
        yield summary(ip, recs)
