"""``netatlas monitor daemon --broker``: the schedules run through Celery beat and each
run's scan goes to a cluster's workers, as ``netatlas scan --broker`` sends it.

Beat ticks one task, ``netatlas.monitor_tick`` (``cluster/beat.py``), every ``--tick``
seconds; :meth:`BrokerScheduler.tick` is its body:

1. runs whose scan has ended on the workers are finished here — the same change
   detection, triggers and deliveries as a local run (``runner.finish_run``);
2. due monitors are claimed with ``schedule.claim_due`` — the one definition the local
   daemon uses too, so a missed slot runs once and two schedulers never run one slot —
   and each claimed run's scan is submitted to the workers (``cluster.dispatch.submit``:
   planned and scope-checked here, cut into shards, queued);
Deliveries are not sent in the tick: the daemon's sender thread
(``notify.deliver.send_in_thread``) sends them beside it, so a slow receiver never
delays a slot.

A monitor whose previous run is still on the workers is not claimed again until that
run has finished (its slot stays due: it runs once, late, not twice at once). The run
in flight is recorded in the monitor itself (``running_scan``), so the store alone says
what is pending; nothing lives only in this process's memory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from netatlas import pipeline
from netatlas.cluster import dispatch
from netatlas.scope import ScopeError
from netatlas.store import Store
from netatlas.store.monitors import monitor_tables

from .model import Monitor
from .notify.deliver import Backoff
from .runner import RunResult, finish_run, monitor_args, refused
from .schedule import Claim, claim_due

log = logging.getLogger("netatlas.monitor.broker")

TICKS_KEY = "netatlas:monitor:ticks"  # how many ticks have run (a liveness counter)
FINISH_KEY = "netatlas:monitor:finish:{scan_id}"  # a run's scan is finished once
FINISH_TTL = 86400


@dataclass(slots=True)
class TickResult:
    finished: list[RunResult] = field(default_factory=list)
    started: list[Claim] = field(default_factory=list)
    in_flight: int = 0

    def summary(self) -> dict[str, Any]:
        return {"finished": len(self.finished), "started": len(self.started),
                "in_flight": self.in_flight}


@dataclass(slots=True)
class BrokerScheduler:
    store: Store
    broker: str
    shards: int = 1  # shards per run's scan
    max_runs: int = 64  # runs on the workers at once
    backoff: Backoff = field(default_factory=Backoff)  # for the daemon's sender thread
    lags: list[float] = field(default_factory=list)  # due -> submitted, each run
    _redis: Any = None

    def __post_init__(self) -> None:
        dispatch.tables_of(self.store)  # a file store: refused before anything runs
        if self.shards < 1:
            raise ValueError("--shards must be at least 1")
        self._redis = redis.Redis.from_url(self.broker)

    def close(self) -> None:
        self._redis.close()

    def in_flight(self) -> list[Monitor]:
        return [Monitor.from_row(r) for r in monitor_tables(self.store).list_monitors()
                if r.doc.get("running_scan")]

    def tick(self, now: float | None = None) -> TickResult:
        result = TickResult()
        pending = []
        for monitor in self.in_flight():
            done = self.finish(monitor)
            if done is None:
                pending.append(monitor.id)
            else:
                result.finished.append(done)
        result.in_flight = len(pending)
        now = time.time() if now is None else now
        for claim in claim_due(self.store, now, self.max_runs - len(pending), skip=pending):
            self.start(claim)
            result.started.append(claim)
        result.in_flight += len(result.started)
        self._redis.incr(TICKS_KEY)
        return result

    def start(self, claim: Claim) -> RunResult | None:
        """Submit a claimed run's scan to the workers; a refused one is recorded."""
        monitor, started = claim.monitor, time.time()
        monitor.last_lag = claim.lag
        self.lags.append(claim.lag)
        try:
            scan, _ = dispatch.submit(self.store, monitor.scan_config(), self.broker,
                                      self.shards, args=monitor_args(monitor, claim.lag))
        except (ScopeError, LookupError, ValueError) as exc:
            log.warning("monitor %s (%s) refused: %s", monitor.name, monitor.id, exc)
            return refused(self.store, monitor, exc, started)
        monitor.running_scan = scan.id
        monitor_tables(self.store).record_run(monitor.id, monitor.run_fields(), None, [],
                                              [], time.time())
        log.info("monitor %s (%s): scan %s queued, %.3f s after its slot", monitor.name,
                 monitor.id, scan.id, claim.lag)
        return None

    def finish(self, monitor: Monitor) -> RunResult | None:
        """The run's outcome once its scan has ended on the workers; None while it runs
        (or while another scheduler finishes it)."""
        scan_id = monitor.running_scan
        assert scan_id is not None
        scan = self.store.get_scan(scan_id)
        if scan is not None and scan.status == "running":
            return None
        key = FINISH_KEY.format(scan_id=scan_id)
        if not self._redis.set(key, monitor.id, nx=True, ex=FINISH_TTL):
            return None  # another scheduler has it
        try:
            row = monitor_tables(self.store).get_monitor(monitor.id)
            if row is None or row.doc.get("running_scan") != scan_id:
                return None  # deleted, or finished meanwhile
            monitor = Monitor.from_row(row)  # edits made while the scan ran are kept
            if scan is None:
                return refused(self.store, monitor, LookupError(f"scan {scan_id} is gone"),
                               time.time(), what="failed")
            started = scan.started.timestamp()
            if scan.status != "finished":
                # a partial scan would report what it missed as gone: no events from it
                monitor.last_scan_id = scan_id
                return refused(self.store, monitor,
                               RuntimeError(f"scan {scan_id} {scan.status} on the workers"),
                               started, what="failed")
            plan = pipeline.plan_scan(pipeline.ScanConfig.from_args(scan.args))
            result = finish_run(self.store, monitor, scan_id, plan, started)
        except BaseException:
            self._redis.delete(key)  # let the next tick try again
            raise
        log.info("monitor %s (%s): scan %s done, %d events", monitor.name, monitor.id,
                 scan_id, len(result.events))
        return result
