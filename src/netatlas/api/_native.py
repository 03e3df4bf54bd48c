"""The native JSON API under /api/v1. Handlers are plain ``def`` where they only read
the (synchronous) store, so they run in the thread pool, never on the event loop."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from netatlas import pipeline
from netatlas.api import _export
from netatlas.api._auth import AdminAccess, ReadAccess, ScanAccess
from netatlas.api._diff import host_diff, parse_time, scan_ports
from netatlas.api._errors import ApiError, clip
from netatlas.api._limits import MAX_TARGET, MAX_TARGETS
from netatlas.api._records import BadRequest, facets_json, host_summary, parse_facets
from netatlas.api._scans import ScanRefused, ScanRequest, ScanRequestError, scan_dict
from netatlas.model import utcnow
from netatlas.query import QuerySyntaxError, parse
from netatlas.store import CursorError

MAX_QUERY = 4096
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000

QueryText = Annotated[str, Query(max_length=MAX_QUERY, description="search language")]
FacetSpec = Annotated[str, Query(max_length=512, description="name[:size],... e.g. port:5,product")]


def check_query(q: str) -> None:
    """Parse up front so a bad query is a 400, even for a stream."""
    parse(q)


def _facets(services: Any, q: str, spec: str, approximate: list[str] | None = None
            ) -> dict[str, list[dict[str, Any]]]:
    """Facet counts as JSON; names counted over a sample are added to ``approximate``."""
    approximate = [] if approximate is None else approximate
    try:
        wanted = parse_facets(spec)
    except BadRequest as exc:
        raise ApiError(400, str(exc)) from exc
    out: dict[str, Any] = {}
    for name, size in wanted:
        try:
            result = services.store.facets(q, [name], size=size)
        except QuerySyntaxError:
            raise
        except ValueError as exc:  # an unknown facet name
            raise ApiError(400, str(exc), facet=name) from exc
        out.update(facets_json(result))
        if getattr(result, "approximate", False):  # counted over a sample, scaled up
            approximate.append(name)
    return out


def _add_facets(out: dict[str, Any], services: Any, q: str, spec: str) -> None:
    """``facets``, and ``facets_approximate`` naming those counted over a sample."""
    sampled: list[str] = []
    out["facets"] = _facets(services, q, spec, sampled)
    if sampled:
        out["facets_approximate"] = sampled


def _ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise ApiError(400, f"not an IP address: {clip(ip)}") from None


Target = Annotated[str, Field(max_length=MAX_TARGET)]


class ScanBody(BaseModel):
    targets: list[Target] = Field(..., min_length=1, max_length=MAX_TARGETS,
                                  description="addresses, CIDRs, ranges (no host names)")
    ports: str | None = Field(None, max_length=4096, description="nmap syntax; default 1-1024")
    top_ports: int | None = Field(None, ge=1, le=65535)
    exclude_ports: str | None = Field(None, max_length=4096)
    allow: list[Target] = Field(default_factory=list, max_length=MAX_TARGETS,
                                description="narrows the server's allow list; never widens it")
    exclude: list[Target] = Field(default_factory=list, max_length=MAX_TARGETS)
    rate: float | None = Field(None, gt=0)
    method: Literal["connect", "syn"] = Field(
        "connect", description="TCP discovery: " + "; ".join(
            f"{k}: {v}" for k, v in pipeline.DISCOVER_METHODS.items()))
    concurrency: int = Field(200, ge=1, le=5000)
    timeout: float = Field(1.0, gt=0, le=30)
    retries: int = Field(0, ge=0, le=5)
    grab: bool = True
    grab_concurrency: int = Field(32, ge=1, le=512)
    banner_wait: float = Field(1.5, ge=0, le=30)
    seed: int = Field(0, ge=0, lt=2**32)
    check_default_logins: bool = Field(
        False, description="INTRUSIVE, off by default: log in to identified services with "
                           "a short list of vendor default credentials (netatlas scan "
                           "--check-default-logins); a login that works is a critical "
                           "default-login finding")


class KeyBody(BaseModel):
    role: Literal["read", "scan", "admin"] = "read"
    name: str = Field("", max_length=200)
    rate: float | None = Field(None, gt=0)
    burst: int | None = Field(None, ge=1)


def create_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["netatlas"])

    @router.get("/search", summary="Search the latest observation of every service")
    def search(request: Request, who: ReadAccess, q: QueryText = "", facets: FacetSpec = "",
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
               page: Annotated[int | None, Query(ge=1)] = None,
               cursor: Annotated[str | None, Query(max_length=64, alias="after",
                                                   description="next_cursor of the page"
                                                   " before (search-after: deep pages"
                                                   " cost what the first does)")] = None,
               ) -> dict[str, Any]:
        services = request.app.state.services
        if page is not None and cursor is not None:
            raise ApiError(400, "give page= or after=, not both")
        offset: int | None = None
        if page is not None:  # Shodan's page: an offset, fine for the first pages
            offset = (page - 1) * limit
            if offset > MAX_OFFSET:
                raise ApiError(400, f"page too deep (offset > {MAX_OFFSET}); use after=")
            records = services.store.search(q, limit=limit, offset=offset)
            total = services.store.count(q)
            nxt = None
        else:
            try:
                result = services.store.page(q, limit=limit, after=cursor)
            except CursorError as exc:
                raise ApiError(400, str(exc)) from exc
            records, nxt = result.records, result.next
            total = services.store.count(q)
        out: dict[str, Any] = {"total": total, "offset": offset, "limit": limit,
                               "results": [services.enrich(r) for r in records],
                               "next_cursor": nxt}
        if facets:
            _add_facets(out, services, q, facets)
        return out

    @router.get("/count", summary="How many services match")
    def count(request: Request, who: ReadAccess, q: QueryText = "",
              facets: FacetSpec = "") -> dict[str, Any]:
        services = request.app.state.services
        out: dict[str, Any] = {"total": services.store.count(q)}
        if facets:
            _add_facets(out, services, q, facets)
        return out

    @router.get("/stats", summary="Facet counts over the results of a query")
    def stats(request: Request, who: ReadAccess, q: QueryText = "",
              facets: FacetSpec = "port,service,product") -> dict[str, Any]:
        services = request.app.state.services
        out: dict[str, Any] = {"total": services.store.count(q)}
        _add_facets(out, services, q, facets)
        return out

    @router.get("/host/{ip}", summary="Every service of one host, with its history")
    def host(request: Request, who: ReadAccess, ip: str, history: bool = True) -> dict[str, Any]:
        services = request.app.state.services
        ip = _ip(ip)
        latest = [services.enrich(r) for r in services.store.host(ip, history=False)]
        if not latest:
            raise ApiError(404, f"no observations of {ip}")
        past = [services.enrich(r) for r in services.store.host(ip)] if history else []
        return host_summary(ip, latest, past, shodan=False)

    @router.get("/host/{ip}/diff", summary="What changed on a host between two times")
    def diff(request: Request, who: ReadAccess, ip: str,
             since: Annotated[str | None, Query(alias="from", description="ISO 8601")] = None,
             until: Annotated[str | None, Query(alias="to", description="ISO 8601")] = None,
             ) -> dict[str, Any]:
        services = request.app.state.services
        ip = _ip(ip)
        history = services.store.host(ip)
        if not history:
            raise ApiError(404, f"no observations of {ip}")
        try:
            t_to = parse_time(until) or utcnow()
            t_from = parse_time(since)
        except ValueError as exc:
            raise ApiError(400, f"bad time: {exc}") from exc
        if t_from is None:  # default: just before the newest sighting
            stamps = sorted({r["timestamp"] for r in history})
            t_from = parse_time(stamps[-2]) if len(stamps) > 1 else parse_time(stamps[0])
        assert t_from is not None
        if t_from > t_to:
            raise ApiError(400, "from is after to")
        cache: dict[str, Any] = {}

        def coverage(scan_id: str) -> Any:
            if scan_id not in cache:
                scan = services.store.get_scan(scan_id)
                cache[scan_id] = scan_ports(scan.args) if scan else None
            return cache[scan_id]

        return {"ip_str": ip, "from": t_from.isoformat(), "to": t_to.isoformat(),
                **host_diff(history, t_from, t_to, coverage)}

    @router.get("/export", summary="Every matching record, streamed (jsonl or csv)")
    def export(request: Request, who: ReadAccess, q: QueryText = "",
               format: Literal["jsonl", "csv"] = "jsonl") -> StreamingResponse:
        services = request.app.state.services
        check_query(q)

        def records() -> Any:
            return (services.enrich(r) for r in services.store.iter_search(q))

        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(
            _export.stream(records, format), media_type=media,
            headers={"Content-Disposition": f'attachment; filename="netatlas.{format}"'},
        )

    # -- scans ---------------------------------------------------------------------
    @router.get("/scans", summary="Scans and their progress")
    def scans(request: Request, who: ReadAccess) -> list[dict[str, Any]]:
        manager = request.app.state.services.scans
        out = []
        for s in request.app.state.services.store.scans():
            live = manager.get(s.id) if manager.is_running(s.id) else s
            out.append(scan_dict(live, manager.is_running(s.id), manager.error(s.id),
                                 manager.shards(s.id)))
        return out

    @router.post("/scans", status_code=202, summary="Start a scan inside the server's allow list")
    async def start_scan(request: Request, who: ScanAccess,
                         body: Annotated[ScanBody, Body()]) -> dict[str, Any]:
        manager = request.app.state.services.scans
        try:
            scan = await manager.start(ScanRequest(**body.model_dump()))
        except ScanRefused as exc:
            raise ApiError(403, f"refused: {exc}") from exc
        except ScanRequestError as exc:
            raise ApiError(400, str(exc)) from exc
        return scan_dict(scan, True)

    @router.get("/scans/{scan_id}", summary="One scan's progress")
    def get_scan(request: Request, who: ReadAccess, scan_id: str) -> dict[str, Any]:
        manager = request.app.state.services.scans
        scan = manager.get(scan_id)
        if scan is None:
            raise ApiError(404, "no such scan")
        return scan_dict(scan, manager.is_running(scan_id), manager.error(scan_id),
                         manager.shards(scan_id))

    @router.delete("/scans/{scan_id}", summary="Cancel a running scan (it can be resumed)")
    async def cancel_scan(request: Request, who: ScanAccess, scan_id: str) -> dict[str, Any]:
        manager = request.app.state.services.scans
        scan = await manager.cancel(scan_id)
        if scan is None:
            if manager.get(scan_id) is None:
                raise ApiError(404, "no such scan")
            raise ApiError(409, "scan is not running in this server")
        return scan_dict(scan, False)

    # -- keys ----------------------------------------------------------------------
    @router.get("/keys", summary="API keys (never their secrets)")
    def list_keys(request: Request, who: AdminAccess) -> list[dict[str, Any]]:
        return [k.to_dict() for k in request.app.state.services.store.list_keys()]

    @router.post("/keys", status_code=201, summary="Create a key; the secret is shown once")
    def create_key(request: Request, who: AdminAccess,
                   body: Annotated[KeyBody, Body()]) -> dict[str, Any]:
        secret, key = request.app.state.services.store.create_key(body.role, body.name, body.rate,
                                                             body.burst)
        return {"key": secret, **key.to_dict()}

    @router.delete("/keys/{key_id}", summary="Revoke a key")
    def revoke_key(request: Request, who: AdminAccess, key_id: str) -> dict[str, Any]:
        if not request.app.state.services.store.revoke_key(key_id):
            raise ApiError(404, "no such live key")
        return {"id": key_id, "revoked": True}

    return router
