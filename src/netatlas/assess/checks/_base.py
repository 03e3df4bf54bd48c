"""What every check is made of. Each check reads only what the record holds (grab sections,
identification) and returns a short evidence string quoting it, or None. Nothing here
guesses from a port number, and nothing talks to the network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ...model import Observation

Severity = Literal["info", "low", "medium", "high", "critical"]
Evidence = Callable[[Observation], "str | None"]

EVIDENCE_MAX = 200


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    severity: Severity
    title: str
    evidence: Evidence


def quote(value: Any, limit: int = 80) -> str:
    """A record value as a short, single-line quotation."""
    text = " ".join(str(value).split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def sec(obs: Observation, name: str) -> dict[str, Any]:
    value = obs.sections.get(name)
    return value if isinstance(value, dict) else {}


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_dict(value: Any) -> dict[str, Any]:
    """A record value that is a mapping, or {} for anything else."""
    return value if isinstance(value, dict) else {}


def http_section(obs: Observation) -> dict[str, Any]:
    return sec(obs, "http")


def page_title(obs: Observation) -> str:
    return as_text(http_section(obs).get("title"))


def page_html(obs: Observation) -> str:
    return as_text(http_section(obs).get("html"))


def product_name(obs: Observation) -> str:
    return (obs.product or "").lower()
