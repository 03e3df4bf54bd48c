"""InternetDB-compatible lookup: ``GET /internetdb/{ip}`` answers as Shodan's free
InternetDB does — ``{ip, ports, cpes, hostnames, tags, vulns}`` from the latest
observation of each service of the address, 404 ``{"detail": "No information
available"}`` when there is none."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from netatlas.api._auth import ReadAccess
from netatlas.api._errors import ApiError
from netatlas.api._native import _ip
from netatlas.interop.internetdb import summary


def create_router() -> APIRouter:
    router = APIRouter(tags=["internetdb-compatible"])

    @router.get("/internetdb/{ip}", summary="InternetDB: ports, CPEs, names, tags, vulns")
    def lookup(request: Request, who: ReadAccess, ip: str) -> dict[str, Any]:
        services = request.app.state.services
        addr = _ip(ip)
        latest = services.store.host(addr, history=False)
        if not latest:
            raise ApiError(404, "No information available", detail="No information available")
        return summary(addr, latest)

    return router
