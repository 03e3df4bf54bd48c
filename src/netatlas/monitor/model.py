"""A monitor: a stored scan definition (targets, ports, scope) with a schedule, its
triggers (with per-trigger ignores of one ip:port) and the notifiers its alerts go to;
and durations as people write them (``6h``, ``30m``, ``7d``)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from netatlas.pipeline import ScanConfig
from netatlas.store.monitors import MonitorRow

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
# Scan options a monitor may carry besides what it visits (the pace of its runs).
PACE_OPTIONS = ("rate", "concurrency", "timeout", "retries", "grab_concurrency",
                "banner_wait", "grab")
EXPIRING_DAYS = 30.0  # a certificate expiring within this many days is an event
# What a run writes back: only these, so an edit made while a run was in flight stays.
RUN_FIELDS = ("last_run", "last_scan_id", "last_error", "last_lag", "running_scan", "runs")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``6h``, ``1d``, ``2w`` (a bare number is seconds)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 6h, 1d, 2w)")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def new_id() -> str:
    return secrets.token_hex(8).upper()  # Shodan's alert ids are 16 upper-case characters


@dataclass(slots=True)
class Monitor:
    name: str
    targets: list[str]
    allow: list[str]
    exclude: list[str] = field(default_factory=list)
    ports: str | None = None
    exclude_ports: str | None = None
    every: float = 86400.0
    enabled: bool = True
    # trigger name -> {"ignore": ["ip:port", ...]}
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifiers: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # PACE_OPTIONS
    expiring_days: float = EXPIRING_DAYS
    id: str = field(default_factory=new_id)
    created: float = field(default_factory=time.time)
    next_run: float = 0.0
    last_run: float | None = None
    last_scan_id: str | None = None
    last_error: str | None = None
    last_lag: float | None = None  # seconds between due and started, last run
    running_scan: str | None = None  # a run's scan still on a cluster's workers (--broker)
    runs: int = 0

    def scan_config(self) -> ScanConfig:
        """A normal scan of the monitor's scope: the same allow and deny rules as
        ``netatlas scan`` (plan_scan refuses what is outside them)."""
        pace = {k: v for k, v in self.options.items() if k in PACE_OPTIONS}
        return ScanConfig(targets=list(self.targets), allow=list(self.allow),
                          exclude=list(self.exclude), ports=self.ports,
                          exclude_ports=self.exclude_ports, **pace)

    def ignored(self, trigger: str, ip: str, port: int) -> bool:
        return f"{ip}:{port}" in self.triggers.get(trigger, {}).get("ignore", [])

    def run_fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in RUN_FIELDS}

    def to_row(self) -> MonitorRow:
        doc = asdict(self)
        for k in ("id", "name", "enabled", "next_run"):
            doc.pop(k)
        return MonitorRow(self.id, self.name, self.enabled, self.next_run, doc)

    @classmethod
    def from_row(cls, row: MonitorRow) -> Monitor:
        known = {k: v for k, v in row.doc.items() if k in cls.__dataclass_fields__}
        return cls(id=row.id, name=row.name, enabled=row.enabled, next_run=row.next_run,
                   **known)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["every_text"] = format_duration(self.every)
        return out
