"""``netatlas cluster up / down``: a whole cluster on one machine — Debian's
``redis-server``, a PostgreSQL (yours, or a throwaway one), and N workers, each
scanning from its own loopback source address. Everything it starts is written to
``state.json`` in the state folder with PID and start time; ``down`` stops exactly
those processes (and the pool processes of each worker), by PID, never by name.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from netatlas.lab.pgserver import TempPostgres, _children
from netatlas.lab.process import PidRecord, alive, spawn, stop
from netatlas.lab.redisserver import TempRedis
from netatlas.lab.services import LabError

READY_TIMEOUT = 90.0


def _start_time(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rindex(")") + 2:].split()[19])


def worker_argv(broker: str, db: str, allow: list[str], source_ip: str, name: str,
                lease_ttl: float, visibility_timeout: float | None = None) -> list[str]:
    argv = [sys.executable, "-m", "netatlas.cli.main", "worker", "--broker", broker,
            "--db", db, "--source-ip", source_ip, "--name", name,
            "--lease-ttl", str(lease_ttl)]
    if visibility_timeout is not None:
        argv += ["--visibility-timeout", str(visibility_timeout)]
    for a in allow:
        argv += ["--allow", a]
    return argv


class LocalCluster:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir.resolve()
        self.state_file = self.dir / "state.json"

    def _read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return None

    def _write(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    def up(self, workers: int, allow: list[str], db: str | None = None,
           source_net: str = "127.21.0.0/16", lease_ttl: float = 10.0,
           visibility_timeout: float | None = None) -> dict[str, Any]:
        net = ipaddress.ip_network(source_net)
        if not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):  # type: ignore[arg-type]
            raise LabError(f"cluster workers scan from loopback addresses only, not {net}")
        if workers < 1 or workers >= net.num_addresses - 1:
            raise LabError(f"--workers must be between 1 and {net.num_addresses - 2}")
        if (old := self._read()) and any(alive(PidRecord(p["pid"], p["start"]))
                                         for p in old["processes"]):
            raise LabError(f"a cluster from {self.dir} still runs: netatlas cluster down "
                           f"--state-dir {self.dir}")
        self.dir.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {"processes": []}
        procs: list[dict[str, Any]] = state["processes"]
        try:
            redis = TempRedis(root=self.dir / "redis").start()
            assert redis.record is not None
            procs.append({"role": "redis", "pid": redis.record.pid,
                          "start": redis.record.start, "root": str(redis.root)})
            state["broker"] = redis.url
            if db is None:
                pg = TempPostgres(base_dir=self.dir).start()
                assert pg.pid is not None
                procs.append({"role": "postgres", "pid": pg.pid,
                              "start": _start_time(pg.pid), "root": str(pg.root)})
                db = pg.url
            state["db"] = db
            self._write(state)
            host = socket.gethostname()
            for i in range(workers):
                src = str(net.network_address + i + 1)
                name = f"w{i + 1}@{host}"
                log = self.dir / f"worker-{i + 1}.log"
                log.write_bytes(b"")
                rec = spawn(worker_argv(state["broker"], db, allow, src, name, lease_ttl,
                                        visibility_timeout), log, cwd=self.dir)
                procs.append({"role": "worker", "name": name, "source_ip": src,
                              "pid": rec.pid, "start": rec.start, "log": str(log)})
                self._write(state)
            self._wait_ready([p for p in procs if p["role"] == "worker"])
        except BaseException:
            self._write(state)
            self.down()
            raise
        state["workers"] = [p["name"] for p in procs if p["role"] == "worker"]
        self._write(state)
        return state

    def _wait_ready(self, workers: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for w in workers:
            log = Path(w["log"])
            while b" ready." not in log.read_bytes():
                if not alive(PidRecord(w["pid"], w["start"])):
                    raise LabError(f"worker {w['name']} exited; {log}:\n"
                                   + log.read_text(errors="replace")[-2000:])
                if time.monotonic() > deadline:
                    raise LabError(f"worker {w['name']} not ready after "
                                   f"{READY_TIMEOUT:.0f} s; see {log}")
                time.sleep(0.1)

    def status(self) -> list[dict[str, Any]]:
        state = self._read() or {"processes": []}
        return [{**p, "running": alive(PidRecord(p["pid"], p["start"]))}
                for p in state["processes"]]

    def down(self) -> int:
        """Workers first (warm shutdown, then SIGKILL: an unfinished shard goes back to
        the queue), then their pool processes, then PostgreSQL and Redis."""
        state = self._read()
        if not state:
            return 0
        stopped = 0
        order = {"worker": 0, "postgres": 1, "redis": 2}
        for p in sorted(state["processes"], key=lambda p: order.get(p["role"], 3)):
            rec = PidRecord(p["pid"], p["start"])
            children = [c for c in _children(rec.pid)] if alive(rec) else []
            if p["role"] == "postgres":
                if stop(rec, signal.SIGINT, grace=30.0):
                    stopped += 1
                shutil.rmtree(p["root"], ignore_errors=True)
                continue
            if stop(rec, signal.SIGTERM, grace=10.0):
                stopped += 1
            for c in children:  # a worker's pool processes, if they outlived it
                if alive(c):
                    stop(c, signal.SIGKILL, grace=5.0)
            if p["role"] == "redis":
                shutil.rmtree(p["root"], ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        return stopped
