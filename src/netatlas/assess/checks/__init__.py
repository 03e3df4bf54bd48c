"""The table of risk checks, one module per theme. Each check reads only what the record
holds (grab sections, identification) and returns a short evidence string quoting it, or
None. Nothing here guesses from a port number, and nothing talks to the network.

Table order is report order: data stores, messaging and coordination, platforms, access, protocol
hygiene, TLS, web, AI / ML, biometric, ICS, then default logins that worked (opt-in)."""

from __future__ import annotations

from . import (
    access,
    ai,
    biometric,
    coordination,
    datastores,
    hygiene,
    ics,
    logins,
    platforms,
    sharing,
    tls,
    web,
)
from ._base import EVIDENCE_MAX, Check, Severity

CHECKS: tuple[Check, ...] = (
    *datastores.CHECKS,
    *coordination.CHECKS,
    *sharing.CHECKS,
    *platforms.CHECKS,  # Consul, Vault, kubelet, YARN, Spark, Solr, Airflow, ...
    *access.CHECKS,
    *hygiene.CHECKS,
    *tls.CHECKS,
    *web.CHECKS,
    *ai.CHECKS,
    *biometric.CHECKS,
    *ics.CHECKS,
    *logins.CHECKS,  # opt-in: only records of --check-default-logins carry its section
)

__all__ = ["CHECKS", "EVIDENCE_MAX", "Check", "Severity"]
