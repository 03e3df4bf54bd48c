"""The monitoring tables on both backends (conformance): monitors, the claim of a due
slot, a run's outcome in one transaction, events newest first, notifiers, deliveries."""

from __future__ import annotations

from netatlas.store import Store
from netatlas.store.monitors import EventRow, MonitorRow, NotifierRow, monitor_tables


def _event(kind: str, port: int, ts: float) -> EventRow:
    return EventRow("m1", ts, kind, "127.20.12.5", port, "tcp", "scan-1", {"summary": kind})


def test_monitor_crud_and_claim(store: Store) -> None:
    t = monitor_tables(store)
    t.put_monitor(MonitorRow("m1", "lab", True, 100.0, {"targets": ["127.20.12.0/28"]}))
    t.put_monitor(MonitorRow("m2", "off", False, 50.0, {}))
    assert [m.id for m in t.list_monitors()] == ["m1", "m2"]
    assert t.get_monitor("m1").doc == {"targets": ["127.20.12.0/28"]}  # type: ignore[union-attr]
    assert [m.id for m in t.due_monitors(100.0)] == ["m1"]  # paused ones are never due
    assert t.due_monitors(99.0) == []
    assert t.claim_monitor("m1", 100.0, 200.0)
    assert not t.claim_monitor("m1", 100.0, 200.0)  # the slot was taken once
    assert t.get_monitor("m1").next_run == 200.0  # type: ignore[union-attr]
    assert t.delete_monitor("m2") and not t.delete_monitor("m2")
    assert t.get_monitor("m2") is None


def test_record_run_events_and_deliveries(store: Store) -> None:
    t = monitor_tables(store)
    t.put_monitor(MonitorRow("m1", "lab", True, 100.0, {}))
    t.put_notifier(NotifierRow("n1", "webhook", {"args": {"url": "http://127.0.0.1:9/"}}))
    assert [n.id for n in t.list_notifiers()] == ["n1"]
    ids = t.record_run("m1", {"last_run": 5.0}, {"a": 1},
                       [_event("appeared", 80, 5.0), _event("disappeared", 22, 5.0)],
                       [(0, "n1")], now=5.0)
    assert len(ids) == 2 and ids[0] < ids[1]
    assert t.get_state("m1") == {"a": 1}
    assert t.get_monitor("m1").doc == {"last_run": 5.0}  # type: ignore[union-attr]
    events = t.events()
    assert [e.kind for e in events] == ["disappeared", "appeared"]  # newest first
    assert [e.kind for e in t.events(kinds=["appeared"])] == ["appeared"]
    assert t.events(since=6.0) == []
    assert t.get_event(ids[0]).port == 80  # type: ignore[union-attr]
    due = t.due_deliveries(5.0)
    assert [(d.event_id, d.notifier_id, d.status) for d in due] == [(ids[0], "n1", "pending")]
    assert t.next_delivery_time() == 5.0
    assert t.claim_delivery(due[0].id, 5.0, 300.0)  # one sender takes the attempt...
    assert not t.claim_delivery(due[0].id, 5.0, 300.0)  # ...and only one
    assert t.due_deliveries(200.0) == [] and t.next_delivery_time() == 300.0
    t.update_delivery(due[0].id, "pending", 1, 9.0, "connection refused", now=5.0)
    assert t.due_deliveries(8.0) == []
    t.update_delivery(due[0].id, "sent", 2, 9.0, None, now=9.0)
    assert t.next_delivery_time() is None
    [d] = t.deliveries()
    assert (d.status, d.attempts, d.last_error) == ("sent", 2, None)
    assert t.delete_notifier("n1") and t.get_notifier("n1") is None
