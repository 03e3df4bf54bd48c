"""When a monitor runs next. Slots are ``every`` apart from the first one; a monitor
found late (the daemon was down for several slots) runs once, now, and its next slot
is the first one after now: missed runs are not made up one by one."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from netatlas.store import Store
from netatlas.store.monitors import monitor_tables

from .model import Monitor


def next_slot(due: float, every: float, now: float) -> float:
    """The first slot ``due + k * every`` (k >= 1) later than ``now``."""
    if every <= 0:
        raise ValueError("every must be positive")
    k = max(1, math.floor((now - due) / every) + 1)
    slot = due + k * every
    while slot <= now:  # float rounding
        slot += every
    return slot


@dataclass(slots=True)
class Claim:
    """A due monitor one scheduler claimed: its slot (``due``) and how late it is."""

    monitor: Monitor
    due: float
    lag: float


def claim_due(store: Store, now: float, limit: int,
              skip: Collection[str] = ()) -> list[Claim]:
    """Claim up to ``limit`` monitors due at ``now`` — the one definition both
    schedulers use (the local daemon and the broker's tick). Each claim moves the
    monitor's ``next_run`` from its slot to ``next_slot`` in one conditional update: two
    schedulers never run the same slot, and a monitor found late runs once. Monitors in
    ``skip`` (a run still in flight) stay due and are claimed once they are free."""
    if limit <= 0:
        return []
    tables = monitor_tables(store)
    claimed = []
    for row in tables.due_monitors(now, limit=limit + len(skip)):
        if row.id in skip:
            continue
        monitor = Monitor.from_row(row)
        slot = next_slot(row.next_run, monitor.every, now)
        if tables.claim_monitor(row.id, row.next_run, slot):
            monitor.next_run = slot
            claimed.append(Claim(monitor, row.next_run, max(0.0, now - row.next_run)))
            if len(claimed) >= limit:
                break
    return claimed
