"""``netatlas monitor daemon --broker``: a real Celery beat (in the daemon) ticks through a
real redis-server; each run's scan is cut into shards and run by the cluster's three
real workers (PostgreSQL store). A monitor created after beat started runs on its short
schedule and its events say exactly what changed on the lab's listeners; a paused
monitor is not run; after the daemon was down for ten slots the monitor runs once on
restart, not ten times. Nothing here asserts on time: waits are bounded, and "no more
runs" is checked over a counted number of beat ticks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from netatlas.monitor import Monitor
from netatlas.monitor import service as svc
from netatlas.monitor.broker import TICKS_KEY
from netatlas.store import Store, open_store
from netatlas.store.monitors import monitor_tables
from netatlas.store.shards import shard_tables

T = TypeVar("T")
NETATLAS = [sys.executable, "-m", "netatlas.cli.main"]
HOST_A, HOST_B = "127.21.6.1", "127.21.6.2"
DEADLINE = 120.0  # generous bound on waiting; nothing asserts on time
TICK = 0.5


def _wait(cond: Callable[[], T | None], what: str) -> T:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if (v := cond()):
            return v
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


class DaemonProc:
    """``netatlas monitor daemon --broker`` as a subprocess, stopped by its PID."""

    def __init__(self, broker: str, db: str, log: Path) -> None:
        self.broker, self.db, self.log = broker, db, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.redis = redis.Redis.from_url(broker)

    def ticks(self) -> int:
        return int(self.redis.get(TICKS_KEY) or 0)

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [*NETATLAS, "monitor", "daemon", "--broker", self.broker, "--db", self.db,
             "--tick", str(TICK), "--shards", "2", "--state-dir",
             str(self.log.parent / "beat")], stdout=out, stderr=out)
        out.close()
        seen = self.ticks()
        _wait(lambda: self.ticks() > seen, "the daemon's first tick")

    def wait_ticks(self, n: int) -> None:
        target = self.ticks() + n
        _wait(lambda: self.ticks() >= target or None, f"{n} more ticks")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def daemon(cluster: dict[str, Any], tmp_path: Path) -> Iterator[DaemonProc]:
    d = DaemonProc(str(cluster["broker"]), str(cluster["db"]), tmp_path / "daemon.log")
    try:
        yield d
    finally:
        d.stop()
        d.redis.close()
        print((tmp_path / "daemon.log").read_text(errors="replace")[-4000:])


def _kinds(store: Store, monitor_id: str) -> list[tuple[str, str, int]]:
    return sorted((e.kind, e.ip, e.port)
                  for e in monitor_tables(store).events(monitor_id=monitor_id, limit=1000))


def _monitor(store: Store, ref: str) -> Monitor:
    return svc.get(store, ref)


def _scans_of(store: Store, monitor_id: str) -> list[str]:
    return [s.id for s in store.scans()
            if (s.args.get("monitor") or {}).get("id") == monitor_id]


def test_beat_schedules_runs_on_the_workers(cluster: dict[str, Any], listeners: Any,
                                            daemon: DaemonProc) -> None:
    a = listeners([(HOST_A, 9300)])
    daemon.start()  # beat runs before the monitor exists
    store = open_store(str(cluster["db"]))
    try:
        m = svc.create(store, Monitor(
            name="beat-lab", targets=["127.21.6.0/29"], allow=["127.21.0.0/16"],
            ports="9300,9301", exclude_ports="2024", every=2.0,
            triggers={"new_service": {}}, options={"banner_wait": 0.5, "timeout": 0.5}))

        # first run: through the broker, on the workers, its events stored
        first = _wait(lambda: (x := _monitor(store, m.id)).runs >= 1 and x, "the first run")
        assert first.last_error is None and first.last_scan_id
        shards = shard_tables(store)
        assert shards is not None
        rows = shards.of_scan(first.last_scan_id)
        workers = {str(p["name"]) for p in cluster["processes"] if p["role"] == "worker"}
        assert len(rows) == 2 and all(r.status == "finished" for r in rows)
        assert {r.worker for r in rows} <= workers
        assert _kinds(store, m.id) == [("appeared", HOST_A, 9300)]

        # between runs: a service appears, another goes away
        b = listeners([(HOST_B, 9301)])
        a.close()
        _wait(lambda: len(_kinds(store, m.id)) >= 3 or None, "the change's events")
        assert _kinds(store, m.id) == [("appeared", HOST_A, 9300), ("appeared", HOST_B, 9301),
                                       ("disappeared", HOST_A, 9300)]
        assert b.peers, "the workers reached the new service"

        # paused after beat started: no run at all over several ticks
        svc.set_enabled(store, m.id, False)
        # a tick that claimed the monitor just before the pause records its run before
        # it ends (start() is in the tick): two ticks later no run is on its way in
        daemon.wait_ticks(2)
        _wait(lambda: _monitor(store, m.id).running_scan is None or None,
              "the run in flight to finish")
        runs = _monitor(store, m.id).runs
        daemon.wait_ticks(8)  # four slots of the 2 s schedule
        assert _monitor(store, m.id).runs == runs

        # down for ten slots: one run on restart, not ten
        daemon.stop()
        paused = _monitor(store, m.id)
        paused.enabled, paused.every = True, 3600.0
        paused.next_run = time.time() - 10 * 3600.0 - 5
        monitor_tables(store).put_monitor(paused.to_row())
        scans = len(_scans_of(store, m.id))
        daemon.start()
        again = _wait(lambda: (x := _monitor(store, m.id)).runs > runs and x,
                      "the run after the restart")
        daemon.wait_ticks(8)
        now = _monitor(store, m.id)
        assert now.runs == runs + 1 == again.runs
        assert len(_scans_of(store, m.id)) == scans + 1
        assert paused.next_run + 10 * 3600.0 < now.next_run <= paused.next_run + 11 * 3600.0
        assert len(_kinds(store, m.id)) == 3  # nothing changed meanwhile: no new event
    finally:
        store.close()
