"""Schedules: slots every N seconds; a daemon that was down runs a missed monitor once
(not once per missed slot); two daemons never claim one slot; paused monitors are never
due; a monitor outside its allow list is refused before anything is stored or sent."""

from __future__ import annotations

import pytest

from netatlas.monitor import Monitor, parse_duration
from netatlas.monitor import service as svc
from netatlas.monitor.daemon import Daemon
from netatlas.monitor.schedule import claim_due, next_slot
from netatlas.scope import ScopeError
from netatlas.store import Store
from netatlas.store.monitors import monitor_tables


def test_durations_and_slots() -> None:
    assert parse_duration("6h") == 21600 and parse_duration("90s") == 90
    assert parse_duration("2w") == 14 * 86400 and parse_duration("30") == 30
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert next_slot(100.0, 10.0, 100.0) == 110.0
    assert next_slot(100.0, 10.0, 155.0) == 160.0  # five slots missed: one run, then 160


def _monitor(store: Store, next_run: float, every: float = 60.0) -> Monitor:
    m = Monitor(name="m", targets=["127.20.12.30"], allow=["127.20.12.0/24"], ports="8080",
                every=every, next_run=next_run)
    return svc.save(store, m)


def test_missed_runs_run_once_and_slots_are_claimed_once(store: Store) -> None:
    m = _monitor(store, next_run=1000.0)
    first, second = Daemon(store), Daemon(store)
    now = 1000.0 + 10 * 60 + 5  # the daemon was down for ten slots
    claimed = first.claim_due(now)
    assert [(c.id, lag) for c, lag in claimed] == [(m.id, 605.0)]
    assert claimed[0][0].next_run == 1000.0 + 11 * 60  # the next slot after now, not a backlog
    assert second.claim_due(now) == []  # the slot is taken
    assert first.claim_due(now + 1) == []  # nothing due until the next slot
    svc.set_enabled(store, m.id, False)
    assert first.claim_due(now + 3600) == []  # paused: never due


def test_scope_and_triggers_checked_on_save(store: Store) -> None:
    with pytest.raises(ScopeError):
        svc.save(store, Monitor(name="x", targets=["127.30.0.1"], allow=["127.20.12.0/24"]))
    with pytest.raises(ValueError):
        svc.save(store, Monitor(name="x", targets=["127.20.12.1"], allow=["127.20.12.0/24"],
                                triggers={"nonsense": {}}))
    with pytest.raises(LookupError):
        svc.save(store, Monitor(name="x", targets=["127.20.12.1"], allow=["127.20.12.0/24"],
                                notifiers=["nope"]))
    assert monitor_tables(store).list_monitors() == []


def test_claim_due_skips_runs_in_flight_and_keeps_them_due(store: Store) -> None:
    """The broker's scheduler does not claim a monitor whose last run is still on the
    workers: it stays due (claimed once it is free), and others are not starved by it."""
    busy = _monitor(store, next_run=1000.0)
    free = _monitor(store, next_run=1001.0)
    claims = claim_due(store, 2000.0, limit=1, skip=[busy.id])
    assert [(c.monitor.id, c.due, c.lag) for c in claims] == [(free.id, 1001.0, 999.0)]
    assert claim_due(store, 2000.0, limit=5, skip=[busy.id]) == []
    (later,) = claim_due(store, 2000.0, limit=5)
    assert (later.monitor.id, later.due) == (busy.id, 1000.0)
    assert later.monitor.next_run == 1000.0 + 17 * 60  # one run, then the next slot


async def test_local_daemon_never_starts_a_monitor_twice_at_once(store: Store) -> None:
    """A run longer than its period: the local daemon keeps the monitor due, and claims
    it again only once the run has ended (as the broker's scheduler does)."""
    m = _monitor(store, next_run=1000.0)
    daemon = Daemon(store)
    assert daemon.start_due(now=1000.0) == 1  # the run is in flight until we await it
    assert daemon.claim_due(1000.0 + 3600) == []
    await daemon.drain()
    assert [c.id for c, _ in daemon.claim_due(1000.0 + 3600)] == [m.id]


async def test_edit_made_while_a_run_is_in_flight_is_kept(store: Store) -> None:
    """The run writes back only its own fields (last run, error, count): a trigger added
    and a port changed by `monitor edit` during the run survive its end."""
    m = _monitor(store, next_run=1000.0)
    daemon = Daemon(store)
    assert daemon.start_due(now=1000.0) == 1  # the run holds the monitor as claimed
    edited = svc.get(store, m.id)
    edited.triggers["new_service"] = {"ignore": []}
    edited.ports = "8081"
    svc.save(store, edited)
    await daemon.drain()
    after = svc.get(store, m.id)
    assert after.triggers == {"new_service": {"ignore": []}} and after.ports == "8081"
    assert after.runs == 1 and after.last_run is not None and after.last_scan_id
