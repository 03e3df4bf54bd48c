"""The timeline page: what changed, newest first, grouped by day — for everything, a
network or a host (``/events?q=net:…`` / ``q=ip:…``), over the last ``since``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from netatlas.monitor import parse_duration
from netatlas.monitor import service as svc
from netatlas.query import QuerySyntaxError
from netatlas.web._query import bounded
from netatlas.web._render import page as render_page

SINCE_CHOICES = ("1d", "7d", "30d", "365d")


def add_routes(router: APIRouter, store: Any) -> None:
    @router.get("/events")
    def events(q: str = "", since: str = "7d", kind: str = "") -> Response:
        q = q.strip()
        since = since if since in SINCE_CHOICES else "7d"
        error = None
        days: dict[str, list[dict[str, Any]]] = {}
        try:
            found = svc.find_events(store(), time.time() - parse_duration(since), bounded(q),
                                    kinds=[kind] if kind else [], limit=500)
        except (QuerySyntaxError, ValueError, TimeoutError) as exc:
            error, found = str(exc), []
        for e in found:
            when = datetime.fromtimestamp(e.ts, UTC)
            days.setdefault(when.strftime("%Y-%m-%d"), []).append({
                "time": when.strftime("%H:%M:%S"), "kind": e.kind, "ip": e.ip,
                "port": e.port, "summary": e.doc.get("summary", ""),
                "monitor": e.doc.get("monitor", e.monitor_id),
                "triggers": e.doc.get("triggers", [])})
        return render_page("events.html", status=400 if error else 200, query=q,
                           active_page="events", since=since, choices=SINCE_CHOICES,
                           days=days, error=error, total=len(found))
