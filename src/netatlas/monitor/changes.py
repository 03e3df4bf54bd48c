"""What changed between two runs of a monitor, as events.

A run's records are reduced to the facts worth comparing (``facts``: service, product,
version, certificate, findings, CVEs), kept as the monitor's state; the next run's facts
are compared with them (``diff``). Each difference is one ``Change``: a service appeared
or disappeared, its product or version changed, its certificate changed or is about to
expire (or has), a finding or a CVE appeared or went away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("appeared", "disappeared", "product_changed", "version_changed", "cert_changed",
         "cert_expiring", "finding_appeared", "finding_gone", "vuln_appeared", "vuln_gone")

Facts = dict[str, Any]
# A grab's status when discovery saw the port open but the grab found otherwise. Refused:
# nothing listens there any more, so the service is gone (not one whose product became
# unknown). Timed out connecting: the run could not tell; the endpoint keeps its last
# facts and gives no event, as one outside the run's scope does.
GONE_STATUSES = frozenset({"connection-refused"})
UNKNOWN_STATUSES = frozenset({"connection-timeout"})
_NOT_LISTENING = GONE_STATUSES | UNKNOWN_STATUSES


@dataclass(slots=True)
class Change:
    kind: str
    key: str  # endpoint_key()
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def endpoint_key(ip: str, port: int, transport: str) -> str:
    return f"{ip}|{port}|{transport}"


def split_key(key: str) -> tuple[str, int, str]:
    ip, port, transport = key.rsplit("|", 2)
    return ip, int(port), transport


def record_key(record: dict[str, Any]) -> str:
    return endpoint_key(str(record.get("ip_str")), int(record.get("port") or 0),
                        str(record.get("transport") or "tcp"))


def observed(records: dict[str, dict[str, Any]]) -> tuple[dict[str, Facts], set[str]]:
    """A run's records (endpoint key -> record) as (the facts of each endpoint found
    listening, the keys whose state the run could not tell)."""
    listening = {k: facts(r) for k, r in records.items()
                 if r.get("status") not in _NOT_LISTENING}
    unknown = {k for k, r in records.items() if r.get("status") in UNKNOWN_STATUSES}
    return listening, unknown


def _expiry(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def facts(record: dict[str, Any]) -> Facts:
    """The comparable facts of one record (small: this is what state keeps)."""
    cert = (record.get("ssl") or {}).get("cert") or {}
    fingerprint = (cert.get("fingerprint") or {}).get("sha256") if isinstance(cert, dict) else None
    risks = {r.get("id"): r.get("severity") for r in record.get("risks") or []
             if isinstance(r, dict) and r.get("id")}
    vulns = record.get("vulns") or {}
    return {
        "service": record.get("service"), "product": record.get("product"),
        "version": record.get("version"),
        "cert": fingerprint,
        "cert_cn": ((cert.get("subject") or {}).get("CN") if isinstance(cert, dict) else None),
        "expires": _expiry(cert.get("expires")) if isinstance(cert, dict) else None,
        "risks": risks,
        "vulns": {k: bool((v or {}).get("verified")) if isinstance(v, dict) else False
                  for k, v in (vulns.items() if isinstance(vulns, dict) else [])},
    }


def _where(key: str) -> str:
    ip, port, transport = split_key(key)
    return f"{ip}:{port}/{transport}"


def _name(f: Facts) -> str:
    what = " ".join(str(x) for x in (f.get("product"), f.get("version")) if x)
    service = f.get("service") or "service"
    return f"{service} ({what})" if what else str(service)


def _expiring(f: Facts, now: float, window: float) -> bool:
    expires = f.get("expires")
    return expires is not None and expires - now <= window


def diff(before: dict[str, Facts], after: dict[str, Facts], now: float,
         expiring_days: float = 30.0) -> list[Change]:
    """Every change from ``before`` to ``after`` (endpoint key -> facts), in a stable
    order (endpoint, then kind). ``before`` holds only endpoints the run could see."""
    window = expiring_days * 86400
    out: list[Change] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        where = _where(key)
        if new is None:
            assert old is not None
            out.append(Change("disappeared", key, f"{_name(old)} gone from {where}",
                              {"before": old}))
            continue
        if old is None:
            out.append(Change("appeared", key, f"new service: {_name(new)} on {where}",
                              {"after": new}))
            if _expiring(new, now, window):
                out.append(_cert_expiring(key, new, now))
            continue
        for part in ("product", "version"):
            if old.get(part) != new.get(part):
                out.append(Change(f"{part}_changed", key,
                                  f"{where}: {part} {old.get(part) or '-'} -> "
                                  f"{new.get(part) or '-'}",
                                  {"before": old.get(part), "after": new.get(part)}))
        cert_changed = old.get("cert") != new.get("cert")
        if cert_changed and (old.get("cert") or new.get("cert")):
            out.append(Change("cert_changed", key, f"{where}: certificate changed"
                              + (f" (CN {new.get('cert_cn')})" if new.get("cert_cn") else ""),
                              {"before": old.get("cert"), "after": new.get("cert"),
                               "before_expires": old.get("expires"),
                               "after_expires": new.get("expires")}))
        if _expiring(new, now, window) and (cert_changed or not _expiring(old, now, window)):
            out.append(_cert_expiring(key, new, now))
        old_risks, new_risks = old.get("risks") or {}, new.get("risks") or {}
        for rid in sorted(set(new_risks) - set(old_risks)):
            out.append(Change("finding_appeared", key, f"{where}: {rid} ({new_risks[rid]})",
                              {"id": rid, "severity": new_risks[rid]}))
        for rid in sorted(set(old_risks) - set(new_risks)):
            out.append(Change("finding_gone", key, f"{where}: {rid} no longer found",
                              {"id": rid, "severity": old_risks[rid]}))
        old_vulns, new_vulns = old.get("vulns") or {}, new.get("vulns") or {}
        for cve in sorted(set(new_vulns) - set(old_vulns)):
            out.append(Change("vuln_appeared", key, f"{where}: {cve}",
                              {"id": cve, "verified": new_vulns[cve]}))
        for cve in sorted(set(old_vulns) - set(new_vulns)):
            out.append(Change("vuln_gone", key, f"{where}: {cve} no longer matches",
                              {"id": cve}))
    return out


def _cert_expiring(key: str, f: Facts, now: float) -> Change:
    expires = float(f["expires"])
    expired = expires <= now
    when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d")
    text = "expired" if expired else "expires"
    return Change("cert_expiring", key, f"{_where(key)}: certificate {text} {when}",
                  {"expires": expires, "expired": expired, "cert": f.get("cert")})
