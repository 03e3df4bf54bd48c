"""Monitoring over HTTP: the native ``/api/v1/events`` and ``/api/v1/monitors``, and
Shodan's alert API so the official ``shodan`` client and CLI drive netatlas monitors
unchanged — ``/shodan/alert…`` (create, info, edit, delete, triggers, enable/disable a
trigger, ignore an ip:port, attach a notifier) and ``/notifier…`` (create, list,
providers, show, edit, remove). A Shodan alert is a monitor over the given networks,
inside the server's allow list (as API scans are), every day by default, on the ports an
API scan probes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from netatlas.api._auth import ReadAccess, ScanAccess, form_principal, require
from netatlas.api._body import field, form_fields, json_object, targets
from netatlas.api._errors import ApiError
from netatlas.api._shodan_tools import DEFAULT_PORTS
from netatlas.monitor import Monitor, parse_duration
from netatlas.monitor import service as svc
from netatlas.monitor.notify import PROVIDERS, check_args
from netatlas.monitor.triggers import TRIGGERS, TriggerError, check_trigger
from netatlas.query import QuerySyntaxError
from netatlas.scope import ScopeError
from netatlas.store.monitors import NotifierRow, monitor_tables

ALERT_EVERY = 86400.0  # a Shodan alert's monitor runs daily unless edited
MAX_NAME = 200  # characters of an alert's name
MAX_QUERY = 4096  # characters of an events query, as /api/v1/search


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _notifier(n: NotifierRow) -> dict[str, Any]:
    args = {k: ("***" if k in ("secret", "password") else v)
            for k, v in n.doc.get("args", {}).items()}
    return {"id": n.id, "provider": n.provider, "description": n.doc.get("description", ""),
            "args": args}


def _alert(request: Request, m: Monitor) -> dict[str, Any]:
    tables = monitor_tables(request.app.state.services.store)
    notifiers = [tables.get_notifier(nid) for nid in m.notifiers]
    return {"id": m.id, "name": m.name, "created": _iso(m.created), "expires": 0,
            "expiration": None, "expired": False, "size": len(m.targets),
            "filters": {"ip": list(m.targets)},
            "triggers": {t: {"ignore": [_ignore(e) for e in conf.get("ignore", [])]}
                         for t, conf in m.triggers.items()},
            "has_triggers": bool(m.triggers),
            "notifiers": [_notifier(n) for n in notifiers if n is not None],
            "enabled": m.enabled, "every": m.every, "next_run": _iso(m.next_run),
            "last_run": _iso(m.last_run)}


def _ignore(endpoint: str) -> dict[str, Any]:
    ip, _, port = endpoint.rpartition(":")
    return {"ip": ip, "port": int(port) if port.isdigit() else port}


def _filter_ips(body: dict[str, Any]) -> list[str]:
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise ApiError(400, "filters: a JSON object is expected")
    return targets("filters.ip", filters.get("ip"))


def create_router() -> APIRouter:
    router = APIRouter()

    def store(request: Request) -> Any:
        return request.app.state.services.store

    def monitor(request: Request, alert_id: str) -> Monitor:
        try:
            return svc.get(store(request), alert_id)
        except svc.NotFound:
            raise ApiError(404, "Alert not found") from None

    def save(request: Request, m: Monitor, create: bool = False) -> Monitor:
        try:
            return svc.create(store(request), m) if create else svc.save(store(request), m)
        except ScopeError as exc:
            raise ApiError(403, f"refused: {exc}") from exc
        except (ValueError, LookupError, TriggerError, QuerySyntaxError) as exc:
            raise ApiError(400, str(exc)) from exc

    # -- native ---------------------------------------------------------------------------
    @router.get("/api/v1/events", summary="What changed, newest first", tags=["monitoring"])
    def events(request: Request, who: ReadAccess,
               q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
               since: Annotated[str | None, Query(max_length=64)] = None,
               monitor_id: Annotated[str | None, Query(max_length=128)] = None,
               kind: Annotated[str | None, Query(max_length=64)] = None,
               ip: Annotated[str | None, Query(max_length=64)] = None,
               limit: int = 100) -> dict[str, Any]:
        try:
            after = time.time() - parse_duration(since) if since else None
            found = svc.find_events(store(request), after, q, monitor_id,
                                    [kind] if kind else [], ip, limit=min(max(limit, 1), 1000))
        except QuerySyntaxError as exc:
            raise ApiError(400, str(exc)) from exc
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return {"matches": [svc.event_dict(e) for e in found], "total": len(found)}

    @router.get("/api/v1/monitors", summary="Monitors", tags=["monitoring"])
    def monitors(request: Request, who: ReadAccess) -> dict[str, Any]:
        return {"monitors": [m.to_dict() for m in svc.all_monitors(store(request))]}

    @router.get("/api/v1/deliveries", summary="The delivery log", tags=["monitoring"])
    def deliveries(request: Request, who: ReadAccess, status: str | None = None,
                   limit: int = 100) -> dict[str, Any]:
        rows = monitor_tables(store(request)).deliveries(status, limit=min(limit, 1000))
        return {"deliveries": [{"id": d.id, "event_id": d.event_id, "status": d.status,
                                "notifier_id": d.notifier_id, "attempts": d.attempts,
                                "next_attempt": _iso(d.next_attempt),
                                "updated": _iso(d.updated), "last_error": d.last_error}
                               for d in rows]}

    # -- Shodan alerts ------------------------------------------------------------------
    @router.post("/shodan/alert", summary="Shodan: create a network alert (a monitor)")
    async def create_alert(request: Request, who: ScanAccess) -> dict[str, Any]:
        body = await json_object(request)
        services = request.app.state.services
        if not services.allow:
            raise ApiError(403, "refused: this server was started without --allow")
        exclude = services.scans.exclude_ports
        m = Monitor(name=field("name", body.get("name") or "alert", MAX_NAME),
                    targets=_filter_ips(body),
                    allow=list(services.allow), ports=DEFAULT_PORTS,
                    exclude_ports=exclude, every=ALERT_EVERY)
        return _alert(request, save(request, m, create=True))

    @router.get("/shodan/alert/info", summary="Shodan: every alert")
    def alerts(request: Request, who: ReadAccess) -> list[dict[str, Any]]:
        return [_alert(request, m) for m in svc.all_monitors(store(request))]

    @router.get("/shodan/alert/triggers", summary="Shodan: triggers an alert can enable")
    def triggers(who: ReadAccess) -> list[dict[str, str]]:
        return [{"name": t.name, "description": t.description, "rule": t.rule}
                for t in TRIGGERS]

    @router.get("/shodan/alert/{alert_id}/info", summary="Shodan: one alert")
    def alert_info(request: Request, who: ReadAccess, alert_id: str) -> dict[str, Any]:
        return _alert(request, monitor(request, alert_id))

    @router.post("/shodan/alert/{alert_id}", summary="Shodan: change an alert's networks")
    async def edit_alert(request: Request, who: ScanAccess, alert_id: str) -> dict[str, Any]:
        body = await json_object(request)
        m = monitor(request, alert_id)
        m.targets = _filter_ips(body)
        return _alert(request, save(request, m))

    @router.delete("/shodan/alert/{alert_id}", summary="Shodan: delete an alert")
    def delete_alert(request: Request, who: ScanAccess, alert_id: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        monitor_tables(store(request)).delete_monitor(m.id)
        return {"success": True}

    @router.put("/shodan/alert/{alert_id}/trigger/{names}",
                summary="Shodan: enable triggers (comma-separated)")
    def enable(request: Request, who: ScanAccess, alert_id: str, names: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        for name in (n.strip() for n in names.split(",") if n.strip()):
            try:
                check_trigger(name)
            except (TriggerError, QuerySyntaxError) as exc:
                raise ApiError(400, str(exc)) from exc
            m.triggers.setdefault(name, {})
        save(request, m)
        return {"success": True}

    @router.delete("/shodan/alert/{alert_id}/trigger/{names}", summary="Shodan: disable")
    def disable(request: Request, who: ScanAccess, alert_id: str, names: str
                ) -> dict[str, Any]:
        m = monitor(request, alert_id)
        for name in names.split(","):
            m.triggers.pop(name.strip(), None)
        save(request, m)
        return {"success": True}

    @router.put("/shodan/alert/{alert_id}/trigger/{name}/ignore/{endpoint}",
                summary="Shodan: ignore one ip:port for a trigger")
    def ignore(request: Request, who: ScanAccess, alert_id: str, name: str,
               endpoint: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        if name not in m.triggers:
            raise ApiError(404, f"trigger {name} is not enabled on this alert")
        entry = m.triggers[name]
        entry["ignore"] = sorted(set(entry.get("ignore", [])) | {endpoint})
        save(request, m)
        return {"success": True}

    @router.delete("/shodan/alert/{alert_id}/trigger/{name}/ignore/{endpoint}",
                   summary="Shodan: stop ignoring one ip:port")
    def unignore(request: Request, who: ScanAccess, alert_id: str, name: str,
                 endpoint: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        entry = m.triggers.get(name, {})
        entry["ignore"] = [e for e in entry.get("ignore", []) if e != endpoint]
        save(request, m)
        return {"success": True}

    @router.put("/shodan/alert/{alert_id}/notifier/{nid}", summary="Shodan: attach")
    def attach(request: Request, who: ScanAccess, alert_id: str, nid: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        if nid not in m.notifiers:
            m.notifiers.append(nid)
        save(request, m)
        return {"success": True}

    @router.delete("/shodan/alert/{alert_id}/notifier/{nid}", summary="Shodan: detach")
    def detach(request: Request, who: ScanAccess, alert_id: str, nid: str) -> dict[str, Any]:
        m = monitor(request, alert_id)
        m.notifiers = [n for n in m.notifiers if n != nid]
        save(request, m)
        return {"success": True}

    # -- notifiers ------------------------------------------------------------------------
    @router.post("/notifier", summary="Shodan: create a notifier")
    async def create_notifier(request: Request) -> dict[str, Any]:
        form = await form_fields(request)
        secret = request.query_params.get("key") or form.pop("key", None)
        require(form_principal(request, secret), "scan")
        provider = form.pop("provider", "")
        description = form.pop("description", "")
        try:
            row = svc.add_notifier(store(request), provider, form, description)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return {"success": True, "id": row.id}

    @router.get("/notifier", summary="Shodan: notifiers")
    def notifiers(request: Request, who: ReadAccess) -> dict[str, Any]:
        rows = monitor_tables(store(request)).list_notifiers()
        return {"matches": [_notifier(n) for n in rows], "total": len(rows)}

    @router.get("/notifier/provider", summary="Shodan: notification providers")
    def providers(who: ReadAccess) -> dict[str, Any]:
        return {p.name: {"required": list(p.required), "optional": list(p.optional),
                         "description": p.description} for p in PROVIDERS.values()}

    @router.get("/notifier/{nid}", summary="Shodan: one notifier")
    def get_notifier(request: Request, who: ReadAccess, nid: str) -> dict[str, Any]:
        row = monitor_tables(store(request)).get_notifier(nid)
        if row is None:
            raise ApiError(404, "Notifier not found")
        return _notifier(row)

    @router.put("/notifier/{nid}", summary="Shodan: change a notifier's arguments")
    def edit_notifier(request: Request, who: ScanAccess, nid: str) -> dict[str, Any]:
        tables = monitor_tables(store(request))
        row = tables.get_notifier(nid)
        if row is None:
            raise ApiError(404, "Notifier not found")
        given = {k: field(k, v) for k, v in request.query_params.items() if k != "key"}
        try:
            row.doc["args"] = check_args(row.provider, {**row.doc.get("args", {}), **given})
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        tables.put_notifier(row)
        return {"success": True, "id": nid}

    @router.delete("/notifier/{nid}", summary="Shodan: remove a notifier")
    def remove_notifier(request: Request, who: ScanAccess, nid: str) -> dict[str, Any]:
        if not monitor_tables(store(request)).delete_notifier(nid):
            raise ApiError(404, "Notifier not found")
        return {"success": True}

    return router
