"""Scheduling 1,000 monitors: lag and the scheduler's memory, local daemon vs --broker.

    python bench/monitor.py                              # 1,000 monitors, every 60 s, 150 s
    python bench/monitor.py --monitors 200 --period 60   # a quicker run
    python bench/monitor.py --no-broker                  # the local daemon only

Each monitor scans one address of 127.20.51.0/24 (monitor i: 127.20.51.(i mod 250 + 1))
on ports 9400-9401, port 2024 excluded; the bench itself serves a handful of them
(small asyncio TCP servers on 127.20.51.1-8:9400 that greet and hang up), the rest
answer with a reset; runs are discovery only unless ``--grab``. The monitors' first
slots are spread evenly over one period of their schedule, so the load is steady:
monitors / every runs a second.

Two schedulers run the same set for ``--period`` seconds:

- local: ``netatlas monitor daemon`` on a SQLite file (the scans run in the daemon);
- broker (when ``redis-server`` and PostgreSQL's binaries are installed):
  ``netatlas cluster up --workers 2`` (its own redis-server, a throwaway PostgreSQL,
  workers scanning from 127.21.0.x), and ``netatlas monitor daemon --broker``: beat's
  tick claims and queues, the workers scan.

Lag is a run's start minus its slot, as the scheduler recorded it when it claimed the
run (``scan.args["monitor"]["lag"]``: for the broker, when the run's shards were queued).
Slots that fell due inside the period but were never started count as "missed" — a
scheduler that falls behind shows it there, not only in its lag. Peak RSS is the
daemon process's VmHWM (for the broker: beat, its tick consumer and the claims; the
scans' memory is the workers', shown apart). Everything started is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from netatlas.lab.pgserver import _children
from netatlas.monitor import Monitor
from netatlas.monitor import service as svc
from netatlas.store import open_store

NET = "127.20.51.0/24"
PORTS = "9400,9401"
FORBIDDEN_PORT = "2024"
LISTENERS = [(f"127.20.51.{i}", 9400) for i in range(1, 9)]
NETATLAS = [sys.executable, "-m", "netatlas.cli.main"]
LEAD = 15.0  # seconds between creating the monitors and their first slots


class Servers:
    """Greeting TCP servers on an event loop in a thread of their own."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.Server] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        for ip, port in endpoints:
            fut = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._greet, ip, port), self.loop)
            self.servers.append(fut.result(10))

    @staticmethod
    async def _greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 bench ready\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def close(self) -> None:
        async def shut() -> None:
            for s in self.servers:
                s.close()
                await s.wait_closed()
        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def create_monitors(db: str, n: int, every: float, t0: float, grab: bool) -> list[float]:
    """The monitors, first slots spread over one period; returns their first slots."""
    store = open_store(db)
    firsts = []
    try:
        for i in range(n):
            first = t0 + LEAD + i * every / n
            svc.create(store, Monitor(
                name=f"bench-{i:04d}", targets=[f"127.20.51.{i % 250 + 1}"], allow=[NET],
                ports=PORTS, exclude_ports=FORBIDDEN_PORT, every=every,
                triggers={"new_service": {}},
                options={"timeout": 0.5, "banner_wait": 0.3, "grab": grab}), start=first)
            firsts.append(first)
    finally:
        store.close()
    return firsts


def run_daemon(argv: list[str], log: Path, until: float) -> tuple[int, float]:
    """Run the daemon until ``until``; its peak RSS (KiB) just before it is stopped."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        while time.time() < until:
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited ({proc.returncode}); see {log}")
            time.sleep(0.5)
        hwm = _hwm_kib(proc.pid)
    finally:
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return hwm, time.monotonic() - t


def measure(db: str, firsts: list[float], every: float, end: float) -> dict[str, Any]:
    """Lags of the runs the scheduler started, and the slots due before ``end`` it
    never started."""
    store = open_store(db)
    try:
        scans = [s for s in store.scans() if s.args.get("monitor")]
        finished = sum(1 for s in scans if s.status == "finished")
    finally:
        store.close()
    lags = sorted(float(s.args["monitor"]["lag"]) for s in scans
                  if s.started.timestamp() <= end)
    due = sum(int((end - f) // every) + 1 for f in firsts if f <= end)
    q = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else lags * 99
    return {"due": due, "started": len(lags), "finished": finished,
            "missed": max(0, due - len(lags)),
            "p50": q[49] if lags else float("nan"), "p95": q[94] if lags else float("nan"),
            "max": lags[-1] if lags else float("nan")}


def local(n: int, every: float, period: float, tick: float, max_runs: int, grab: bool,
          work: Path) -> dict[str, Any]:
    db = str(work / "local.db")
    t0 = time.time()
    firsts = create_monitors(db, n, every, t0, grab)
    end = t0 + LEAD + period
    hwm, _ = run_daemon([*NETATLAS, "monitor", "daemon", "--db", db, "--tick", str(tick),
                         "--max-runs", str(max_runs)], work / "local.log", end)
    return {**measure(db, firsts, every, end), "rss_mib": hwm / 1024, "workers_mib": None}


def broker(n: int, every: float, period: float, tick: float, max_runs: int, workers: int,
           grab: bool, work: Path) -> dict[str, Any]:
    from netatlas.cluster.local import LocalCluster

    cluster = LocalCluster(work / "cluster")
    try:
        state = cluster.up(workers, [NET])
        db, url = str(state["db"]), str(state["broker"])
        t0 = time.time()
        firsts = create_monitors(db, n, every, t0, grab)
        end = t0 + LEAD + period
        hwm, _ = run_daemon([*NETATLAS, "monitor", "daemon", "--broker", url, "--db", db,
                             "--tick", str(tick), "--max-runs", str(max_runs),
                             "--state-dir", str(work / "beat")], work / "broker.log", end)
        pools = [c.pid for p in state["processes"] if p["role"] == "worker"
                 for c in _children(p["pid"])]
        workers_kib = max((_hwm_kib(pid) for pid in pools), default=0)
        return {**measure(db, firsts, every, end), "rss_mib": hwm / 1024,
                "workers_mib": workers_kib / 1024}
    finally:
        cluster.down()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--monitors", type=int, default=1000)
    ap.add_argument("--every", type=float, default=60.0, help="each monitor's schedule, s")
    ap.add_argument("--period", type=float, default=150.0, help="seconds measured")
    ap.add_argument("--tick", type=float, default=0.2)
    ap.add_argument("--local-max-runs", type=int, default=8)
    ap.add_argument("--broker-max-runs", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-broker", action="store_true")
    ap.add_argument("--grab", action="store_true",
                    help="grab and identify what answers (default: discovery only, so the "
                         "runs are cheap and what is measured is the scheduling)")
    args = ap.parse_args()
    have_broker = (not args.no_broker and shutil.which("redis-server") is not None
                   and Path("/usr/lib/postgresql").is_dir())
    work = Path(tempfile.mkdtemp(prefix=f"bench-monitor-{uuid.uuid4().hex[:6]}-"))
    work.chmod(0o755)  # the throwaway PostgreSQL runs as user postgres
    servers = Servers(LISTENERS)
    rows: list[tuple[str, dict[str, Any]]] = []
    print(f"{args.monitors} monitors on {NET} x {PORTS} minus {FORBIDDEN_PORT}, every "
          f"{args.every:g} s ({args.monitors / args.every:.1f} runs/s due), "
          f"{args.period:g} s measured, tick {args.tick:g} s, "
          f"{'grab' if args.grab else 'discovery only'}", flush=True)
    try:
        rows.append((f"local daemon (--max-runs {args.local_max_runs})",
                     local(args.monitors, args.every, args.period, args.tick,
                           args.local_max_runs, args.grab, work)))
        print(_line(*rows[-1]), flush=True)
        if have_broker:
            rows.append((f"--broker, {args.workers} workers (--max-runs "
                         f"{args.broker_max_runs})",
                         broker(args.monitors, args.every, args.period, args.tick,
                                args.broker_max_runs, args.workers, args.grab, work)))
            print(_line(*rows[-1]), flush=True)
        else:
            print("broker: skipped (no redis-server / PostgreSQL, or --no-broker)")
    finally:
        servers.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'scheduler':<38} {'due':>6} {'started':>7} {'missed':>6} {'done':>6} "
          f"{'p50 s':>7} {'p95 s':>7} {'max s':>7} {'RSS MiB':>8} {'worker MiB':>10}")
    for name, r in rows:
        print(_line(name, r))


def _line(name: str, r: dict[str, Any]) -> str:
    w = "-" if r["workers_mib"] is None else f"{r['workers_mib']:.0f}"
    return (f"{name:<38} {r['due']:>6} {r['started']:>7} {r['missed']:>6} "
            f"{r['finished']:>6} {r['p50']:>7.3f} {r['p95']:>7.3f} {r['max']:>7.3f} "
            f"{r['rss_mib']:>8.0f} {w:>10}")


if __name__ == "__main__":
    main()
