"""Shodan-compatible endpoints: the official ``shodan`` client works against netatlas
with ``api.base_url`` (or ``SHODAN_API_URL``) set to the server's root URL — the client
itself adds ``/shodan/host/...`` and ``/api-info``.

Same field names and shapes as Shodan: ``matches``/``total``/``facets`` ({name:
[{value, count}]}); a host is ``{ip_str, ports, hostnames, last_update, data: [...]}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from netatlas.api._auth import ReadAccess
from netatlas.api._errors import ApiError
from netatlas.api._native import MAX_QUERY, _facets, _ip
from netatlas.api._records import (
    host_summary,
    minify,
    parse_bool,
    select_fields,
    shodan_banner,
)
from netatlas.query import FACETS, FIELDS

PAGE_SIZE = 100  # Shodan's page
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000



def _filters() -> list[str]:
    return sorted(FIELDS)


def _facet_names() -> list[str]:
    return sorted(FACETS)


def _banner(services: Any, rec: dict[str, Any], mini: bool, fields: list[str]) -> dict[str, Any]:
    banner = shodan_banner(services.enrich(rec))
    if fields:
        return select_fields(banner, fields)
    return minify(banner) if mini else banner


def create_router() -> APIRouter:
    router = APIRouter(tags=["shodan-compatible"])

    @router.get("/api-info", summary="Shodan: the key's plan and limits")
    def api_info(request: Request, who: ReadAccess) -> dict[str, Any]:
        services = request.app.state.services
        return {
            "plan": "netatlas", "role": who.role, "https": False, "unlocked": True,
            "unlocked_left": 0, "telnet": False, "scan_credits": 0, "query_credits": 0,
            "monitored_ips": 0,
            "usage_limits": {"scan_credits": -1, "query_credits": -1, "monitored_ips": -1},
            "rate_limit": {"rate": services.limiter.rate, "burst": services.limiter.burst},
        }

    @router.get("/shodan/host/count", summary="Shodan: number of results (+ facets)")
    def count(request: Request, who: ReadAccess,
              query: Annotated[str, Query(max_length=MAX_QUERY)] = "",
              facets: Annotated[str, Query(max_length=512)] = "") -> dict[str, Any]:
        services = request.app.state.services
        out: dict[str, Any] = {"matches": [], "total": services.store.count(query)}
        out["facets"] = _facets(services, query, facets) if facets else {}
        return out

    @router.get("/shodan/host/search", summary="Shodan: search")
    def search(request: Request, who: ReadAccess,
               query: Annotated[str, Query(max_length=MAX_QUERY)] = "",
               page: Annotated[int, Query(ge=1)] = 1,
               limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
               offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
               facets: Annotated[str, Query(max_length=512)] = "",
               minify: str | None = None,
               fields: Annotated[str, Query(max_length=2048)] = "") -> dict[str, Any]:
        services = request.app.state.services
        if limit is None:
            limit, offset = PAGE_SIZE, (page - 1) * PAGE_SIZE
        if offset > MAX_OFFSET:
            raise ApiError(400, "page too deep; narrow the query")
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        mini = parse_bool(minify, default=True)
        records = services.store.search(query, limit=limit, offset=offset)
        out: dict[str, Any] = {
            "matches": [_banner(services, r, mini, wanted) for r in records],
            "total": services.store.count(query),
        }
        out["facets"] = _facets(services, query, facets) if facets else {}
        return out

    @router.get("/shodan/host/search/facets", summary="Shodan: facet names")
    def facet_names(who: ReadAccess) -> list[str]:
        return _facet_names()

    @router.get("/shodan/host/search/filters", summary="Shodan: filter names")
    def filter_names(who: ReadAccess) -> list[str]:
        return _filters()

    @router.get("/shodan/host/{ips}", summary="Shodan: one host (or several, comma-separated)")
    def host(request: Request, who: ReadAccess, ips: str, history: str | None = None,
             minify: str | None = None) -> Any:
        services = request.app.state.services
        with_history = parse_bool(history)
        mini = parse_bool(minify)
        wanted = [_ip(p.strip()) for p in ips.split(",") if p.strip()][:100]
        hosts = []
        for ip in wanted:
            latest = [services.enrich(r) for r in services.store.host(ip, history=False)]
            if not latest:
                continue
            past = [services.enrich(r) for r in services.store.host(ip)] if with_history else []
            summary = host_summary(ip, latest, past, shodan=True)
            if mini:
                summary.pop("data", None)
            hosts.append(summary)
        if not hosts:
            raise ApiError(404, "No information available for that IP.")
        return hosts if "," in ips else hosts[0]

    return router
