"""``netatlas monitor daemon``: on one machine, runs the monitors that are due and sends
the deliveries that are due, beside the runs (a slow receiver never delays a run). Each
due monitor is claimed first (its ``next_run`` moved to its next slot in one conditional
update), so two daemons on one store never run the same slot, and a daemon that was
down runs a missed monitor once, not once per slot (``schedule.claim_due``, which the
broker's scheduler uses too)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netatlas.store import Store

from .model import Monitor
from .notify.deliver import Backoff, Sender
from .runner import RunResult, run_monitor
from .schedule import claim_due

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Daemon:
    store: Store
    tick: float = 1.0  # seconds between looks at what is due
    max_runs: int = 4  # monitor runs at once
    backoff: Backoff = field(default_factory=Backoff)
    on_run: Callable[[RunResult], None] | None = None
    lags: list[float] = field(default_factory=list)  # due -> started, seconds, each run
    sender: Sender | None = None  # made from store and backoff when not given
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _in_flight: set[str] = field(default_factory=set)  # ids of the monitors running now

    def __post_init__(self) -> None:
        if self.sender is None:
            self.sender = Sender(self.store, self.backoff)

    def claim_due(self, now: float) -> list[tuple[Monitor, float]]:
        """The due monitors this daemon claimed, with how late each one is."""
        free = self.max_runs - len(self._running)
        # a run longer than its period is not started twice: it stays due until it ends
        claims = claim_due(self.store, now, free, skip=self._in_flight)
        return [(c.monitor, c.lag) for c in claims]

    async def _run(self, monitor: Monitor, lag: float) -> None:
        try:
            result = await run_monitor(self.store, monitor, lag)
        except Exception:  # one monitor's failure never stops the others
            log.exception("monitor %s (%s) failed", monitor.name, monitor.id)
            return
        if self.on_run is not None:
            self.on_run(result)

    def start_due(self, now: float | None = None) -> int:
        started = 0
        for monitor, lag in self.claim_due(time.time() if now is None else now):
            self.lags.append(lag)
            task = asyncio.create_task(self._run(monitor, lag))
            self._running.add(task)
            self._in_flight.add(monitor.id)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(functools.partial(self._ended, monitor.id))
            started += 1
        return started

    def _ended(self, monitor_id: str, _: asyncio.Task[None]) -> None:
        self._in_flight.discard(monitor_id)

    async def step(self) -> None:
        """One look: start the runs and the deliveries that are due; neither is waited for."""
        self.start_due()
        assert self.sender is not None
        self.sender.step()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                await self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick)
        finally:
            await self.drain()

    async def drain(self) -> None:
        """Wait for the runs and the delivery attempts in flight."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        assert self.sender is not None
        await self.sender.drain()
