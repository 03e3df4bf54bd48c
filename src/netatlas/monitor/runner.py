"""One run of a monitor: a normal stored scan of its scope (the same pipeline, allow and
deny lists as ``netatlas scan``), then what changed since its last run as events, the
triggers that fire on them, and a pending delivery to each of its notifiers for every
event a trigger fired on — all recorded in one transaction."""

from __future__ import annotations

import functools
import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

from netatlas import pipeline
from netatlas.scope import ScopeError
from netatlas.store import Store
from netatlas.store.monitors import EventRow, monitor_tables

from .changes import Change, Facts, diff, observed, record_key, split_key
from .model import Monitor
from .triggers import fired


@dataclass(slots=True)
class RunResult:
    monitor: Monitor
    scan_id: str | None
    events: list[EventRow] = field(default_factory=list)
    error: str | None = None


def _networks(targets: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """The targets as networks, or None when one is a name or a range (then every
    address of the previous state counts as visible)."""
    nets = []
    for t in targets:
        try:
            nets.append(ipaddress.ip_network(t, strict=False))
        except ValueError:
            return None
    return nets


def _visible(before: dict[str, Facts], monitor: Monitor, plan: pipeline.Plan) -> dict[str, Facts]:
    """The previous state's endpoints this run could see (after an edit narrowed the
    monitor, the others did not disappear: they were not looked at)."""
    ports = plan.space.ports
    nets = _networks(monitor.targets)
    out = {}
    for key, f in before.items():
        ip, port, transport = split_key(key)
        if port not in (ports.udp if transport == "udp" else ports.tcp):
            continue
        if not plan.scope.is_allowed(ip):
            continue
        if nets is not None and not any(ipaddress.ip_address(ip) in n for n in nets):
            continue
        out[key] = f
    return out


def _query_hits(store: Store, scan_id: str, triggers: list[str]) -> dict[str, set[str]]:
    """For each query trigger, the endpoints of this run whose record matches it — by
    the store's own query compiler, so it means what `netatlas search` means."""
    return {t: {record_key(r) for r in store.iter_search(f'scan:"{scan_id}" ({t[6:]})')}
            for t in triggers if t.startswith("query:")}


def monitor_args(monitor: Monitor, lag: float | None) -> dict[str, Any]:
    """What a monitor's scan records of the run that started it (``scan.args``)."""
    return {"monitor": {"id": monitor.id, "name": monitor.name, "lag": lag}}


def refused(store: Store, monitor: Monitor, exc: Exception, started: float,
            what: str = "refused") -> RunResult:
    """A run whose scan was refused (its scope no longer passes) or did not finish:
    recorded as the monitor's last error, no events."""
    monitor.last_error = f"{what}: {exc}"
    monitor.last_run = started
    monitor.running_scan = None
    monitor_tables(store).record_run(monitor.id, monitor.run_fields(), None, [], [],
                                     time.time())
    return RunResult(monitor, None, error=monitor.last_error)


async def run_monitor(store: Store, monitor: Monitor, lag: float | None = None) -> RunResult:
    """One run on this machine: the scan in this process, then ``finish_run``."""
    started = time.time()
    monitor.last_lag = lag
    cfg = monitor.scan_config()
    try:
        scan, plan = pipeline.start_scan(store, cfg)
    except (ScopeError, LookupError, ValueError) as exc:
        return refused(store, monitor, exc, started)
    scan.args.update(monitor_args(monitor, lag))
    store.update_scan(scan)
    await pipeline.run(store, scan, cfg, plan)
    store.flush()
    return finish_run(store, monitor, scan.id, plan, started)


def finish_run(store: Store, monitor: Monitor, scan_id: str, plan: pipeline.Plan,
               started: float) -> RunResult:
    """After the run's scan ended (here, or on a cluster's workers): what changed since
    the last run as events, the triggers that fire, the deliveries — one transaction."""
    tables = monitor_tables(store)
    records = {record_key(r): r for r in store.iter_search(f'scan:"{scan_id}"')}
    now = time.time()
    state = tables.get_state(monitor.id) or {}
    after, unknown = observed(records)
    before = {k: f for k, f in _visible(state.get("endpoints", {}), monitor, plan).items()
              if k not in unknown}
    changes = diff(before, after, now, monitor.expiring_days)
    triggers = list(monitor.triggers)
    hits = _query_hits(store, scan_id, triggers)
    events: list[EventRow] = []
    notify: list[tuple[int, str]] = []
    for change in changes:
        record = records.get(change.key)
        ip, port, _ = split_key(change.key)
        names = fired(triggers, change, record, hits,
                      functools.partial(_ignores, monitor, ip, port))
        events.append(_event(monitor, scan_id, now, change, record, names))
        if names:
            notify += [(len(events) - 1, nid) for nid in monitor.notifiers]
    # endpoints the run could not see keep their last facts
    kept = {k: f for k, f in state.get("endpoints", {}).items() if k not in before}
    monitor.last_run, monitor.last_scan_id, monitor.last_error = started, scan_id, None
    monitor.running_scan = None
    monitor.runs += 1
    tables.record_run(monitor.id, monitor.run_fields(), {"endpoints": {**kept, **after}},
                      events, notify, now)
    return RunResult(monitor, scan_id, events)


def _event(monitor: Monitor, scan_id: str, now: float, change: Change,
           record: dict[str, Any] | None, triggers: list[str]) -> EventRow:
    ip, port, transport = split_key(change.key)
    doc: dict[str, Any] = {"summary": change.summary, "details": change.details,
                           "triggers": triggers, "monitor": monitor.name}
    if record is not None and change.kind != "disappeared":
        doc["record"] = record
    return EventRow(monitor.id, now, change.kind, ip, port, transport, scan_id, doc)


def _ignores(monitor: Monitor, ip: str, port: int, trigger: str) -> bool:
    return monitor.ignored(trigger, ip, port)
