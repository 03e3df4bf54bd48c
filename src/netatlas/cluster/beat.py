"""Monitor schedules through Celery beat (``netatlas monitor daemon --broker``).

Beat has one entry: every ``tick`` seconds it sends ``netatlas.monitor_tick`` to the
``netatlas.monitors`` queue, which the daemon's own consumer (one solo-pool worker in
the daemon's process, beside beat's thread) runs: ``BrokerScheduler.tick`` — finish the
runs whose scans ended, claim what is due, submit each run's scan to the shard workers
(``dispatch.submit``), send due deliveries.

Why one ticking task and not a custom beat scheduler that turns each monitor into a
beat entry: beat keeps its entries, and when each last ran, in its own memory and
shelve file. Mirroring the store there means a sync on every create / edit / pause /
delete (from the CLI, the API, the Shodan alert API — other processes), a second copy
of "when is it due" that can disagree with the store's, and beat's own catch-up rule
instead of ours. With one static tick the store stays the only truth: a monitor
created, edited or paused after beat started is seen at the next tick with no sync;
the due-time rule is ``schedule.claim_due``, the local daemon's (a missed run runs once);
the claim is one conditional update, so ticks sent twice (two daemons for availability,
a redelivered message) never run a slot twice. A tick that is lost costs one tick of
delay; ticks carry an expiry, so a backlog queued while no consumer ran is dropped
rather than run in a burst.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from celery import Celery
from celery.beat import EmbeddedService

from netatlas.cluster.app import make_app
from netatlas.monitor.broker import BrokerScheduler

MONITOR_QUEUE = "netatlas.monitors"
TICK_TASK = "netatlas.monitor_tick"
log = logging.getLogger("netatlas.monitor.beat")


def make_beat_app(broker: str, tick: float) -> Celery:
    """The cluster's Celery app with the one beat entry."""
    if tick <= 0:
        raise ValueError("--tick must be positive")
    app = make_app(broker)
    app.conf.beat_schedule = {
        "netatlas-monitor-tick": {
            "task": TICK_TASK, "schedule": tick,
            "options": {"queue": MONITOR_QUEUE, "expires": max(2.0 * tick, 5.0)},
        },
    }
    app.conf.beat_max_loop_interval = min(1.0, tick)
    return app


def register_tick(app: Celery, scheduler: BrokerScheduler) -> None:
    """The tick task, bound to this process's scheduler (run by the solo pool in this
    process). Acknowledged early: a tick lost with its consumer is simply the next one."""

    @app.task(name=TICK_TASK, ignore_result=True, acks_late=False)
    def monitor_tick() -> dict[str, Any]:
        result = scheduler.tick()
        if result.finished or result.started:
            log.info("tick: %s", result.summary())
        return result.summary()


def run(app: Celery, name: str = "", state_dir: Path | None = None) -> None:
    """Beat in a thread and the tick's consumer in this thread, until SIGINT/SIGTERM
    (Celery's warm shutdown). Beat's schedule file lives in ``state_dir`` (a temporary
    folder by default: the only entry is the tick, nothing there needs to survive)."""
    own = state_dir is None
    folder = Path(tempfile.mkdtemp(prefix="netatlas-beat-")) if state_dir is None else state_dir
    folder.mkdir(parents=True, exist_ok=True)
    beat = EmbeddedService(app, thread=True,
                           schedule_filename=str(folder / "beat-schedule"))
    assert isinstance(beat, threading.Thread)  # thread=True: beat runs in this process
    beat.start()
    try:
        app.worker_main(["worker", "-Q", MONITOR_QUEUE, "-P", "solo", "-c", "1",
                         "-n", name or f"monitor@{socket.gethostname()}",
                         "--without-gossip", "--without-mingle", "--without-heartbeat",
                         "-l", "INFO"])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        beat.stop()
        beat.join(5.0)
        if own:
            shutil.rmtree(folder, ignore_errors=True)
        sys.stdout.flush()
