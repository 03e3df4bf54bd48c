"""Sending what is due. Every delivery is a stored row (``pending`` until it is
``sent``, or ``failed`` once given up — kept, visible); a failed attempt is retried after
a back-off that doubles from ``base`` up to ``cap``, until ``give_up`` seconds after the
delivery was made. A receiver down for an hour gets its alerts when it comes back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netatlas.store import Store
from netatlas.store.monitors import DeliveryRow, monitor_tables

from .message import Message, SendError
from .providers import PROVIDERS

log = logging.getLogger(__name__)

ATTEMPT_DEADLINE = 120.0  # one attempt, whole: a receiver that trickles bytes is cut off
LEASE = ATTEMPT_DEADLINE + 60.0  # a claimed attempt is retried after this if its sender died


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
        try:
            await asyncio.wait_for(asyncio.to_thread(sender, args, msg), ATTEMPT_DEADLINE)
        except TimeoutError as exc:
            raise SendError(f"no answer within {ATTEMPT_DEADLINE:g} s") from exc
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
    """Attempt every delivery that is due, in the foreground (``monitor run-now``);
    counts by outcome."""
    sender = Sender(store, backoff, concurrency=limit)
    sender.step()
    return await sender.drain()


@dataclass(slots=True)
class Sender:
    """Sends due deliveries beside the schedule, never holding it up: each look
    (:meth:`step`) claims what is due, up to ``concurrency`` attempts in flight, and
    returns at once; a slow or silent receiver occupies one slot, not the daemon.
    Each attempt is claimed in the store first, so two daemons never send it twice."""

    store: Store
    backoff: Backoff = field(default_factory=Backoff)
    concurrency: int = 16
    counts: dict[str, int] = field(default_factory=dict)  # outcomes since the start
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def step(self) -> int:
        """Start the attempts that are due and fit; how many were started."""
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        tables = monitor_tables(self.store)
        now = time.time()
        started = 0
        for d in tables.due_deliveries(now, free):
            if not tables.claim_delivery(d.id, d.next_attempt, now + LEASE):
                continue  # another sender has it
            task = asyncio.create_task(self._attempt(d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _attempt(self, d: DeliveryRow) -> None:
        try:
            outcome = await attempt(self.store, d, self.backoff)
        except Exception:  # one delivery's failure never stops the others
            log.exception("delivery %s failed", d.id)
            outcome = "error"
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self) -> dict[str, int]:
        """Wait for the attempts in flight; the outcomes so far."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return dict(self.counts)

    async def run(self, stop: asyncio.Event, tick: float) -> None:
        """Look every ``tick`` seconds until ``stop``, then finish what is in flight."""
        try:
            while not stop.is_set():
                self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick)
        finally:
            await self.drain()


def send_in_thread(sender: Sender, tick: float) -> Callable[[], None]:
    """``sender`` looking every ``tick`` seconds on a thread of its own (the broker
    daemon's main thread runs Celery's consumer); returns the function that stops it
    once the attempts in flight are done."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(sender.run(stop, tick),),
                              name="netatlas-deliveries", daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(ATTEMPT_DEADLINE + 5.0)
        if not thread.is_alive():
            loop.close()
    return halt
