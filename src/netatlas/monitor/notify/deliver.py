"""Sending what is due. Every delivery is a stored row (``pending`` until it is
``sent``, or ``failed`` once given up — kept, visible); a failed attempt is retried after
a back-off that doubles from ``base`` up to ``cap``, until ``give_up`` seconds after the
delivery was made. A receiver down for an hour gets its alerts when it comes back."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from netatlas.store import Store
from netatlas.store.monitors import DeliveryRow, monitor_tables

from .message import Message, SendError
from .providers import PROVIDERS


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 10.0
    cap: float = 600.0
    give_up: float = 2 * 86400.0

    def delay(self, attempts: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, attempts - 1))


def _message(store: Store, d: DeliveryRow) -> tuple[dict, Message] | str:
    tables = monitor_tables(store)
    event = tables.get_event(d.event_id)
    notifier = tables.get_notifier(d.notifier_id)
    if event is None:
        return "the event is gone"
    if notifier is None:
        return "the notifier was removed"
    provider = PROVIDERS.get(notifier.provider)
    if provider is None:
        return f"unknown provider {notifier.provider!r}"
    msg = Message(event.id, event.kind, str(event.doc.get("summary", "")), event.monitor_id,
                  str(event.doc.get("monitor", event.monitor_id)),
                  list(event.doc.get("triggers", [])), dict(event.doc.get("record") or {}))
    return notifier.doc.get("args") or {}, msg


async def attempt(store: Store, d: DeliveryRow, backoff: Backoff) -> str:
    """One attempt at one delivery; its new status."""
    tables = monitor_tables(store)
    found = _message(store, d)
    now = time.time()
    if isinstance(found, str):
        tables.update_delivery(d.id, "failed", d.attempts, now, found, now)
        return "failed"
    args, msg = found
    sender = PROVIDERS[tables.get_notifier(d.notifier_id).provider].send  # type: ignore[union-attr]
    try:
        await asyncio.to_thread(sender, args, msg)
    except SendError as exc:
        now = time.time()
        attempts = d.attempts + 1
        nxt = now + backoff.delay(attempts)
        status = "failed" if nxt - d.created > backoff.give_up else "pending"
        tables.update_delivery(d.id, status, attempts, nxt, str(exc)[:500], now)
        return status
    now = time.time()
    tables.update_delivery(d.id, "sent", d.attempts + 1, now, None, now)
    return "sent"


async def deliver_due(store: Store, backoff: Backoff, limit: int = 100) -> dict[str, int]:
    """Attempt every delivery that is due (a few at once); counts by outcome."""
    due = monitor_tables(store).due_deliveries(time.time(), limit)
    outcomes = await asyncio.gather(*(attempt(store, d, backoff) for d in due))
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return counts
