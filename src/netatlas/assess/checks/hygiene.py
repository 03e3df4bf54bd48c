"""Protocol hygiene: user enumeration, weak session security, management and cluster
interfaces reachable from the network."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, http_section, quote, sec

# RFC 5321: 250/251 confirm an address; 252 ("cannot verify, will try") confirms nothing.
_CONFIRMS = (250, 251)


def smtp_user_enum(obs: Observation) -> str | None:
    smtp = sec(obs, "smtp")
    for verb in ("vrfy", "expn"):
        reply = smtp.get(verb)
        if isinstance(reply, dict) and reply.get("code") in _CONFIRMS:
            return f"{verb.upper()} postmaster answered {reply['code']} {quote(reply.get('text'))}"
    return None


def monitoring_exposed(obs: Observation) -> str | None:
    """Prometheus' query API answering without auth: every scrape target, label and
    metric of the monitored estate is readable (and PromQL can be run) by anyone."""
    api = http_section(obs).get("api")
    doc = api.get("buildinfo") if isinstance(api, dict) else None
    if isinstance(doc, str) and doc.startswith('{"status":"success"'):
        return f"/api/v1/status/buildinfo answered without auth: {quote(doc, 60)}"
    return None


CHECKS: tuple[Check, ...] = (
    Check("smtp-user-enum", "medium", "SMTP confirms addresses (VRFY/EXPN user enumeration)",
          smtp_user_enum),
    Check("monitoring-exposed", "medium", "Monitoring API readable without authentication",
          monitoring_exposed),
)
