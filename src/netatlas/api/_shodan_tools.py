"""The rest of what the official ``shodan`` CLI asks for, answered truthfully for a
netatlas server: ``/tools/myip`` (the address the request came from), ``/shodan/ports``
(the ports an API scan probes by default), ``/shodan/protocols`` (netatlas's
grabbers), and on-demand scans (``POST /shodan/scan``, ``/shodan/scans``,
``/shodan/scan/{id}``) — run by the same scan manager as ``/api/v1/scans``, so only
inside the server's allow list.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

from fastapi import APIRouter, Request

from netatlas.api._auth import ReadAccess, form_principal, require
from netatlas.api._body import form_fields
from netatlas.api._errors import ApiError, clip
from netatlas.api._scans import ScanRefused, ScanRequest, ScanRequestError
from netatlas.model import Scan, format_timestamp
from netatlas.scope.ports import exclude_ports, parse_ports

DEFAULT_PORTS = "1-1024"  # what an API scan probes when it names no ports
MAX_IPS_FIELD = 64 * 1024
# netatlas scan status -> Shodan's words
_STATUS = {"running": "PROCESSING", "finished": "DONE", "interrupted": "DONE",
           "failed": "DONE"}


@cache
def _protocols() -> dict[str, str]:
    from netatlas.grab.engine.detect import tables

    out = {}
    for name in sorted(set(tables().greeting_grabbers) | set(tables().probes)):
        try:
            doc = importlib.import_module(f"netatlas.grab.protocols.{name}").__doc__ or ""
        except ImportError:
            doc = ""
        out[name] = doc.strip().splitlines()[0] if doc.strip() else f"{name} grabber"
    return out


def _shodan_scan(scan: Scan, running: bool) -> dict[str, Any]:
    return {"id": scan.id, "status": "PROCESSING" if running else _STATUS.get(scan.status,
                                                                              "DONE"),
            "created": format_timestamp(scan.started), "size": scan.total,
            "credits_left": 0, "count": scan.total}


def _targets(ips: str) -> tuple[list[str], str | None]:
    """Shodan's ``ips``: "1.2.3.4,10.0.0.0/24", or JSON {net: [[port, proto], ...]}."""
    text = ips.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError:
            raise ApiError(400, "ips: neither a list of networks nor JSON") from None
        if not isinstance(spec, dict):
            raise ApiError(400, "ips: JSON must be an object")
        try:
            ports = sorted({int(p[0]) for v in spec.values() if isinstance(v, list)
                            for p in v if isinstance(p, list | tuple) and p})
        except (TypeError, ValueError, OverflowError):
            raise ApiError(400, "ips: ports must be [[port, protocol], ...]") from None
        if any(not 0 <= p <= 65535 for p in ports):
            raise ApiError(400, f"ips: port out of range in {clip(ports)}")
        return [str(k) for k in spec], ",".join(map(str, ports)) or None
    return [t.strip() for t in text.split(",") if t.strip()], None


def create_router() -> APIRouter:
    router = APIRouter(tags=["shodan-compatible"])

    @router.get("/tools/myip", summary="Shodan: the address this request came from")
    def myip(request: Request, who: ReadAccess) -> str:
        return request.client.host if request.client else ""

    @router.get("/shodan/ports", summary="Shodan: ports an API scan probes by default")
    def ports(request: Request, who: ReadAccess) -> list[int]:
        services = request.app.state.services
        portset = parse_ports(DEFAULT_PORTS)
        if services.scans.exclude_ports:
            portset = exclude_ports(portset, services.scans.exclude_ports)
        return list(portset.tcp)

    @router.get("/shodan/protocols", summary="Shodan: protocols netatlas grabs")
    def protocols(who: ReadAccess) -> dict[str, str]:
        return _protocols()

    @router.post("/shodan/scan", summary="Shodan: scan networks inside the allow list")
    async def submit(request: Request) -> dict[str, Any]:
        form = await form_fields(request, MAX_IPS_FIELD)
        secret = request.query_params.get("key") or form.get("key")
        require(form_principal(request, secret), "scan")
        ips = form.get("ips") or request.query_params.get("ips") or ""
        if not ips or len(ips) > MAX_IPS_FIELD:
            raise ApiError(400, f"ips: name the networks to scan (at most {MAX_IPS_FIELD} "
                                "characters)")
        targets, port_spec = _targets(ips)
        manager = request.app.state.services.scans
        try:
            scan = await manager.start(ScanRequest(targets=targets,
                                                   ports=port_spec or DEFAULT_PORTS))
        except ScanRefused as exc:
            raise ApiError(403, f"refused: {exc}") from exc
        except ScanRequestError as exc:
            raise ApiError(400, str(exc)) from exc
        return {"id": scan.id, "count": scan.total, "credits_left": 0}

    @router.get("/shodan/scans", summary="Shodan: scans, newest first")
    def scans(request: Request, who: ReadAccess) -> dict[str, Any]:
        services = request.app.state.services
        manager = services.scans
        listed = sorted(services.store.scans(), key=lambda s: s.started, reverse=True)
        out = [_shodan_scan(manager.get(s.id) or s, manager.is_running(s.id)) for s in listed]
        return {"matches": out[:100], "total": len(out)}

    @router.get("/shodan/scan/{scan_id}", summary="Shodan: one scan's status")
    def status(request: Request, who: ReadAccess, scan_id: str) -> dict[str, Any]:
        manager = request.app.state.services.scans
        scan = manager.get(scan_id)
        if scan is None:
            raise ApiError(404, "Scan not found")
        return _shodan_scan(scan, manager.is_running(scan_id))

    return router
