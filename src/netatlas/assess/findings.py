"""``assess(obs)``: run every check of the table (and the PII scan) over one record."""

from __future__ import annotations

from ..model import Finding, Observation
from .checks import CHECKS, EVIDENCE_MAX, Check
from .pii import pii_finding


def run_check(check: Check, obs: Observation) -> Finding | None:
    try:
        evidence = check.evidence(obs)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # a malformed section is no evidence; one bad check never stops the rest
    if not evidence:
        return None
    return Finding(check.id, check.severity, check.title, evidence[:EVIDENCE_MAX])


def assess(obs: Observation) -> list[Finding]:
    """Every finding the record's own evidence supports, in table order."""
    found = [f for c in CHECKS if (f := run_check(c, obs)) is not None]
    pii = pii_finding(obs)
    if pii is not None:
        found.append(pii)
    return found
