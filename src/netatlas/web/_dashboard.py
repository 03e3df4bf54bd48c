"""Dashboard figures: totals from the store's count and facets, plus what only a pass
over the records can tell (distinct hosts, risks, services by day), capped."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from netatlas.query import QuerySyntaxError
from netatlas.store import Store
from netatlas.web._query import refine
from netatlas.web._records import closing_all

MAX_RECORDS = 20_000
FACETS = ("port", "service", "product", "tag", "country", "severity", "risk")
TOP = 10
MAX_DAYS = 400


def facet_values(store: Store, query: str, name: str, size: int = TOP) -> list[dict[str, Any]]:
    """One facet, or [] when this store does not know it (facets are backend-defined)."""
    try:
        result = store.facets(query, [name], size=size)
    except QuerySyntaxError:
        raise
    except (ValueError, KeyError):  # QuerySyntaxError is a ValueError too: let it through
        return []
    # counted over a sample and scaled up (a large store): the page says "about"
    approximate = bool(getattr(result, "approximate", False))
    return [{"value": f.value, "count": f.count, "approximate": approximate}
            for f in result.get(name, [])]


def _days(by_day: Counter[str]) -> list[dict[str, Any]]:
    """Counts per day, with the empty days in between (up to MAX_DAYS) as zeros."""
    days = sorted(d for d in by_day if d)
    try:
        first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    except (IndexError, ValueError):
        return [{"value": d, "count": by_day[d]} for d in days]
    if (last - first).days > MAX_DAYS:
        return [{"value": d, "count": by_day[d]} for d in days]
    span = ((first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1))
    return [{"value": d, "count": by_day.get(d, 0)} for d in span]


def figures(store: Store, query: str) -> dict[str, Any]:
    total = store.count(query)
    facets = {
        name: [{**f, "query": refine(query, name, f["value"])}
               for f in facet_values(store, query, name)]
        for name in FACETS
    }
    hosts: set[str] = set()
    by_day: Counter[str] = Counter()
    risky = 0
    vulns = 0
    seen = 0
    with closing_all([store.iter_search(query)]) as (records,):
        for rec in records:
            if seen >= MAX_RECORDS:
                break
            seen += 1
            hosts.add(str(rec.get("ip_str")))
            by_day[str(rec.get("timestamp", ""))[:10]] += 1
            if rec.get("risks"):
                risky += 1
            vulns += len(rec.get("vulns") or {})
    scans = store.scans()
    return {
        "query": query,
        "totals": {
            "services": total,
            "hosts": len(hosts),
            "risky": risky,
            "vulns": vulns,
            "scans": len(scans),
        },
        "sampled": seen < total,
        "facets": facets,
        "by_day": _days(by_day),
        "scans": [
            {
                "id": s.id,
                "started": s.started.isoformat(timespec="seconds"),
                "status": s.status,
                "observations": s.observations,
                "open_ports": s.open_ports,
            }
            for s in scans[:8]
        ],
    }
