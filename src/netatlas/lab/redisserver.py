"""A Redis server of our own for the cluster's broker, tests and benchmarks.

Debian's ``redis-server``, a config in a folder of its own, bound to one loopback
address on a free port, no persistence (a broker's queue lives as long as the
cluster), stopped by the PID and start time it was started with — nothing is looked
up or signalled by name.

    with TempRedis() as r:
        app = make_app(r.url)
"""

from __future__ import annotations

import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType

from netatlas.lab.pgserver import _loopback
from netatlas.lab.process import PidRecord, alive, log_tail, spawn, stop
from netatlas.lab.services import LabError

REDIS_SERVER = Path("/usr/bin/redis-server")
READY_TIMEOUT = 30.0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _pong(host: str, port: int) -> bool:
    """One PING in RESP; True on +PONG (raw socket: no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class TempRedis:
    """``redis-server`` on ``host:port`` with its files in ``root``; :meth:`stop` ends it
    and (unless ``keep``) removes the folder."""

    def __init__(self, base_dir: str | Path | None = None, port: int | None = None,
                 host: str = "127.0.0.1", root: str | Path | None = None) -> None:
        self.host = _loopback(host)
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._want_port = port
        self._fixed_root = Path(root) if root is not None else None
        self.port = 0
        self.root: Path | None = None
        self.record: PidRecord | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.record.pid if self.record is not None and alive(self.record) else None

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "redis.log"

    def start(self) -> TempRedis:
        if self.record is not None:
            raise LabError("TempRedis is already started")
        if not REDIS_SERVER.is_file():
            raise LabError(f"{REDIS_SERVER} not found: install the Debian package "
                           "redis-server (bash scripts/install-system-deps.sh)")
        if self._fixed_root is not None:
            self._fixed_root.mkdir(parents=True, exist_ok=True)
            self.root = self._fixed_root
        else:
            base = self._base_dir or Path(tempfile.gettempdir())
            self.root = Path(tempfile.mkdtemp(prefix="netatlas-redis-", dir=base))
        self.port = self._want_port or _free_port(self.host)
        conf = self.root / "redis.conf"
        conf.write_text("\n".join([
            f"bind {self.host}", f"port {self.port}", "protected-mode yes",
            f"dir {self.root}", 'save ""', "appendonly no", "daemonize no",
            f"logfile {self.log_file}", "databases 16", "",
        ]))
        try:
            self.record = spawn([str(REDIS_SERVER), str(conf)], self.root / "stdout.log",
                                cwd=self.root)
            deadline = time.monotonic() + READY_TIMEOUT
            while not _pong(self.host, self.port):
                if not alive(self.record):
                    raise LabError(f"redis-server exited before it was ready; "
                                   f"{self.log_file}:\n{log_tail(self.log_file)}")
                if time.monotonic() > deadline:
                    raise LabError(f"redis-server not ready after {READY_TIMEOUT:.0f} s")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        if self.record is not None:
            stop(self.record, signal.SIGKILL, grace=5.0)

    def stop(self, keep: bool = False) -> None:
        if self.record is not None:
            stop(self.record, signal.SIGTERM, grace=10.0)
            self.record = None
        if self.root is not None and not keep and self._fixed_root is None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> TempRedis:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
