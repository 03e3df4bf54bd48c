"""The web UI's routes: server-rendered pages plus the JSON their charts fetch.

Handlers are plain ``def``: the store is synchronous, so FastAPI runs them in its
thread pool and the event loop never waits on SQLite.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, RedirectResponse, Response

from netatlas.query import QuerySyntaxError
from netatlas.web import _dashboard, _events, _geo, _graph, _host
from netatlas.web._query import (
    PAGE_SIZE,
    SIDEBAR_FACETS,
    QueryTooLong,
    bounded,
    make_pager,
    parse_page,
)
from netatlas.web._records import card, closing_all
from netatlas.web._render import page as render_page
from netatlas.web._security import secure
from netatlas.web._static import static_file

MAX_HISTORY = 500  # observations on a host's timeline (newest)


def _query_error(exc: Exception, query: str) -> dict[str, Any]:
    # one line, so the caret lines up under the column (tabs, newlines -> spaces)
    query = "".join(ch if ch.isprintable() else " " for ch in query)
    if isinstance(exc, QuerySyntaxError):
        column = getattr(exc, "column", None)
        return {
            "message": str(getattr(exc, "message", "") or exc).splitlines()[0],
            "column": column if isinstance(column, int) and column > 0 else None,
            "expected": getattr(exc, "expected", None),
            "query": query,
        }
    if isinstance(exc, TimeoutError):
        return {"message": str(exc) or "the query took too long", "column": None,
                "expected": None, "query": query}
    return {"message": str(exc), "column": None, "expected": None, "query": query}


def _json(data: Any, status: int = 200) -> Response:
    return secure(JSONResponse(data, status_code=status))


# what a query can fail with: said on the page (or in the JSON), never a 500
QUERY_ERRORS = (QuerySyntaxError, QueryTooLong, TimeoutError)


@contextmanager
def _records(store: Any, queries: list[str]) -> Iterator[Iterator[dict[str, Any]]]:
    """The records of several queries, one after another. Builders stop early at their
    caps: closing the generators ends their read cursors at once, not at GC."""
    with closing_all([store.iter_search(q) for q in queries]) as its:
        yield itertools.chain(*its)


def create_router(services: Any) -> APIRouter:
    """The UI's routes over ``services.store`` (and ``services.geoip`` when present)."""
    router = APIRouter(include_in_schema=False)

    def store() -> Any:
        return services.store

    def geoip() -> Any:
        return getattr(services, "geoip", None)

    @router.get("/")
    def home() -> Response:
        return secure(RedirectResponse("/search", status_code=307))

    @router.get("/assets/{path:path}")
    def assets(path: str) -> Response:
        return static_file(path)

    @router.get("/search")
    def search(q: str = "", page: str | None = None) -> Response:
        wanted = parse_page(page)
        s = store()
        try:
            bounded(q)
            total = s.count(q)
            pager = make_pager(wanted, total)
            records = s.search(q, limit=PAGE_SIZE, offset=pager.offset)
            facets = [
                (spec, values)
                for spec in SIDEBAR_FACETS
                if (values := _dashboard.facet_values(s, q, spec.name))
            ]
        except QUERY_ERRORS as exc:
            return _page("search.html", status=400, query=q, error=_query_error(exc, q),
                         total=0, pager=make_pager(1, 0), cards=[], facets=[])
        return _page(
            "search.html", query=q, error=None, total=total, pager=pager,
            cards=[card(_geo.enrich(r, geoip())) for r in records], facets=facets,
        )

    @router.get("/host/{ip}")
    def host(ip: str) -> Response:
        try:
            addr = str(ipaddress.ip_address(ip))
        except ValueError:
            return _page("notfound.html", status=404, query="",
                         message="That is not an IP address.")
        records = store().host(addr, history=True)  # newest first
        if not records:
            return _page("notfound.html", status=404, query="",
                         message=f"No observations of {addr}.")
        latest = _host.services([_geo.enrich(r, geoip()) for r in records])
        return _page(
            "host.html", query="", ip=addr, services=latest,
            timeline=_host.timeline(records[:MAX_HISTORY]),
            history_cut=len(records) > MAX_HISTORY, observations=len(records),
            first_seen=str(records[-1].get("timestamp", ""))[:19],
            last_seen=str(records[0].get("timestamp", ""))[:19],
            summary=latest[0]["card"],
        )

    _events.add_routes(router, store)

    @router.get("/dashboard")
    def dashboard(q: str = "") -> Response:
        try:
            data = _dashboard.figures(store(), bounded(q))
        except QUERY_ERRORS as exc:
            return _page("dashboard.html", status=400, query=q, error=_query_error(exc, q),
                         data=None)
        return _page("dashboard.html", query=q, error=None, data=data)

    @router.get("/map")
    def map_page(q: str = "") -> Response:
        return _page("map.html", query=q, error=None)  # /map/data says what is wrong

    @router.get("/map/data")
    def map_data(q: str = "") -> Response:
        try:
            with _records(store(), [bounded(q)]) as records:
                return _json(_geo.points(records, geoip()))
        except QUERY_ERRORS as exc:
            return _json({"error": _query_error(exc, q)}, status=400)

    @router.get("/graph")
    def graph_page(q: str = "", host: str = "") -> Response:
        try:
            focus = str(ipaddress.ip_address(host)) if host else ""
        except ValueError:
            focus = ""
        return _page("graph.html", query=q, error=None, request_host=focus)

    @router.get("/graph/data")
    def graph_data(
        q: str = "", host: str = "", min_hosts: str = Query("2", alias="min")
    ) -> Response:
        s = store()
        try:
            bounded(q)
            if host:
                try:
                    addr = str(ipaddress.ip_address(host))
                except ValueError:
                    return _json({"error": {"message": "not an IP address"}}, status=400)
                own = s.host(addr, history=False)
                with _records(s, _graph.host_queries(own)) as others:
                    return _json(_graph.build(itertools.chain(own, others), min_hosts=1))
            try:
                least = max(1, min(int(min_hosts), 50))
            except ValueError:
                least = 2
            with _records(s, [q]) as records:
                return _json(_graph.build(records, min_hosts=least))
        except QUERY_ERRORS as exc:
            return _json({"error": _query_error(exc, q)}, status=400)

    return router


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return render_page(template, status=status, **context)
