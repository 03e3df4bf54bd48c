"""Triggers: which events alert. Shodan's names where Shodan has one, plus netatlas's
``ai_exposed``, ``risk:SEVERITY`` (a finding at or above a severity) and
``query:<netatlas query>`` (a new or changed record that matches a saved search).
Each trigger may ignore single ip:port endpoints (Shodan's ``ignore``)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from netatlas.assess.checks import ai, datastores, ics
from netatlas.query import parse

from .changes import Change

SEVERITIES = ("info", "low", "medium", "high", "critical")
_DATASTORE = frozenset(c.id for c in datastores.CHECKS)
_AI = frozenset(c.id for c in ai.CHECKS) | {"jupyter-no-token"}
_ICS = frozenset(c.id for c in ics.CHECKS)
_NOT_A_RECORD = ("disappeared", "finding_gone", "vuln_gone")


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    name: str
    description: str
    rule: str


TRIGGERS: tuple[TriggerInfo, ...] = (
    TriggerInfo("new_service", "A service appeared that the last run did not see",
                "event:appeared"),
    TriggerInfo("open_database", "A database answers without authentication",
                "risk in the data-store checks (" + ", ".join(sorted(_DATASTORE)) + ")"),
    TriggerInfo("vulnerable", "A verified vulnerability appeared", "vuln with verified:true"),
    TriggerInfo("vulnerable_unverified", "A vulnerability appeared (inferred from the version)",
                "vuln with verified:false"),
    TriggerInfo("ssl_expired", "A certificate has expired", "event:cert_expiring expired"),
    TriggerInfo("industrial_control_system", "An industrial control system appeared",
                "risk in the ICS checks or tag:ics"),
    TriggerInfo("iot", "An Internet of Things device appeared", "tag:iot"),
    TriggerInfo("uncommon", "A service on a port registered to another service",
                "service != the port's registered name"),
    TriggerInfo("ai_exposed", "An AI / ML service is exposed",
                "risk in the AI / ML checks or tag:ai"),
    TriggerInfo("risk:SEVERITY", "A finding at or above SEVERITY (info … critical)",
                "severity:>=SEVERITY"),
    TriggerInfo("query:QUERY", "A new or changed record matches a netatlas query",
                "the record matches QUERY"),
)


class TriggerError(ValueError):
    pass


def check_trigger(name: str) -> str:
    """``name`` if it is a trigger netatlas knows; raises TriggerError otherwise."""
    if name.startswith("risk:"):
        if name[5:] not in SEVERITIES:
            raise TriggerError(f"risk:SEVERITY takes one of {', '.join(SEVERITIES)}")
        return name
    if name.startswith("query:"):
        parse(name[6:])  # QuerySyntaxError says where and why
        return name
    if name not in {t.name for t in TRIGGERS if ":" not in t.name}:
        raise TriggerError(f"unknown trigger {name!r}; `netatlas monitor triggers` lists them")
    return name


def _risk_ids(change: Change, record: dict[str, Any] | None) -> dict[str, str]:
    """The findings an event brings: all of a new service's, or the one that appeared."""
    if change.kind == "appeared":
        return {str(r.get("id")): str(r.get("severity")) for r in (record or {}).get("risks") or []
                if isinstance(r, dict)}
    if change.kind == "finding_appeared":
        return {str(change.details["id"]): str(change.details.get("severity"))}
    return {}


def _vulns(change: Change, record: dict[str, Any] | None) -> dict[str, bool]:
    if change.kind == "appeared":
        vulns = (record or {}).get("vulns") or {}
        return {k: bool(v.get("verified")) for k, v in vulns.items() if isinstance(v, dict)}
    if change.kind == "vuln_appeared":
        return {change.details["id"]: bool(change.details.get("verified"))}
    return {}


def _tags(change: Change, record: dict[str, Any] | None) -> set[str]:
    if change.kind != "appeared":
        return set()
    return {str(t).lower() for t in (record or {}).get("tags") or []}


@cache
def _registered(port: int, transport: str) -> str | None:
    try:
        return socket.getservbyport(port, transport)
    except (OSError, OverflowError):
        return None


def _uncommon(change: Change, record: dict[str, Any] | None) -> bool:
    if change.kind != "appeared" or not record or not record.get("service"):
        return False
    usual = _registered(int(record["port"]), str(record.get("transport") or "tcp"))
    service = str(record["service"]).lower()
    if usual is None:
        return False
    family = service.split("-")[0].rstrip("s")  # https -> http, ssl/http -> ssl/http
    return not usual.lower().startswith(family)


_RULES: dict[str, Callable[[Change, dict[str, Any] | None], bool]] = {
    "new_service": lambda c, r: c.kind == "appeared",
    "open_database": lambda c, r: bool(_DATASTORE & set(_risk_ids(c, r))),
    "vulnerable": lambda c, r: any(_vulns(c, r).values()),
    "vulnerable_unverified": lambda c, r: any(not v for v in _vulns(c, r).values()),
    "ssl_expired": lambda c, r: c.kind == "cert_expiring" and bool(c.details.get("expired")),
    "industrial_control_system": lambda c, r: bool(_ICS & set(_risk_ids(c, r)))
    or "ics" in _tags(c, r),
    "iot": lambda c, r: "iot" in _tags(c, r),
    "uncommon": _uncommon,
    "ai_exposed": lambda c, r: bool(_AI & set(_risk_ids(c, r))) or "ai" in _tags(c, r),
}


def fires(trigger: str, change: Change, record: dict[str, Any] | None,
          query_hits: dict[str, set[str]]) -> bool:
    """Whether ``trigger`` fires on this change (``record``: the endpoint's record of
    this run; ``query_hits``: query trigger -> endpoint keys of this run it matched)."""
    if trigger.startswith("risk:"):
        floor = SEVERITIES.index(trigger[5:])
        return any(s in SEVERITIES and SEVERITIES.index(s) >= floor
                   for s in _risk_ids(change, record).values())
    if trigger.startswith("query:"):
        return change.kind not in _NOT_A_RECORD and change.key in query_hits.get(trigger, set())
    rule = _RULES.get(trigger)
    return rule(change, record) if rule else False


def fired(triggers: Iterable[str], change: Change, record: dict[str, Any] | None,
          query_hits: dict[str, set[str]], ignored: Callable[[str], bool]) -> list[str]:
    """The triggers that fire on ``change`` and do not ignore its endpoint."""
    return [t for t in triggers if fires(t, change, record, query_hits) and not ignored(t)]
