"""A throwaway PostgreSQL server for tests and benchmarks.

Debian's own binaries (the newest major under /usr/lib/postgresql), a fresh cluster in a
temp folder, bound to one loopback address and stopped by the PID it was started with —
nothing is ever looked up or signalled by name. Durability settings stay at their
defaults (fsync on) so crash tests mean something.

    with TempPostgres() as pg:
        store = open_store(pg.url)   # netatlas.store: the only code that talks SQL
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from netatlas.lab.daemon import PG_BIN, ids
from netatlas.lab.process import PidRecord, alive, log_tail
from netatlas.lab.services import LabError

_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"}
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # plain identifiers: no quoting in URLs
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
ORPHAN_TIMEOUT = 10.0


def _loopback(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or ip not in ipaddress.ip_network("127.0.0.0/8"):
        raise ValueError(f"TempPostgres listens on 127.0.0.0/8 only, not {host!r}")
    return str(ip)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[PidRecord]:
    """Processes whose parent is ``pid``, with their start times (from /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()  # comm may hold spaces
        if int(fields[1]) == pid:
            found.append(PidRecord(int(d.name), int(fields[19])))
    return found


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class TempPostgres:
    """A PostgreSQL cluster of its own on ``host:port``, removed again by :meth:`stop`."""

    def __init__(self, base_dir: str | Path | None = None, port: int | None = None,
                 host: str = "127.0.0.1") -> None:
        self.host = _loopback(host)
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._want_port = port
        self._port: int | None = None
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # Backends of a SIGKILLed postmaster: they exit by themselves once they notice,
        # but must be gone before a new postmaster may attach to the data dir.
        self._orphans: list[PidRecord] = []
        self._user: tuple[int, int] | None = None  # (uid, gid) to run as, when root

    # -- what tests use -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise LabError("TempPostgres is not started")
        return self._port

    @property
    def root(self) -> Path:
        """The temp folder: data dir, Unix socket and log."""
        if self._root is None:
            raise LabError("TempPostgres is not started")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def url(self) -> str:
        return self.url_for("netatlas")

    def url_for(self, dbname: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self._client("createdb", self._name(name))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        # --force: a test that leaked a connection must not keep its database alive.
        self._client("dropdb", "--if-exists", "--force", self._name(name))

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> TempPostgres:
        if self._root is not None:
            raise LabError(f"TempPostgres is already started in {self._root}")
        if not (PG_BIN / "postgres").is_file():
            raise LabError(f"PostgreSQL server binaries not found in {PG_BIN}: install the "
                           "Debian package postgresql (bash scripts/install-system-deps.sh)")
        # PostgreSQL refuses to run as root: then it runs as the `postgres` user.
        self._user = ids("postgres") if os.geteuid() == 0 else None
        base = self._base_dir or Path(tempfile.gettempdir())
        self._root = Path(tempfile.mkdtemp(prefix="netatlas-pg-", dir=base))
        try:
            self._port = self._want_port or _free_port(self.host)
            self._initdb()
            self._launch()
            self.create_database("netatlas")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT) of the postmaster we started, SIGKILL after 30 s; then
        the temp folder goes."""
        self._shutdown()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None
        self._port = None

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (the data dir stays)."""
        if self._proc is None:
            return
        self._orphans += [c for c in _children(self._proc.pid) if alive(c)]
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Start again on the same data dir and port, e.g. after :meth:`kill`; a server
        still running is shut down (fast) first."""
        if self._root is None:
            raise LabError("TempPostgres is not started")
        self._shutdown()
        self._launch()

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- inside ---------------------------------------------------------------------------

    @property
    def _uid(self) -> int | None:
        return self._user[0] if self._user else None

    @property
    def _gid(self) -> int | None:
        return self._user[1] if self._user else None

    @property
    def _groups(self) -> list[int] | None:
        return [] if self._user else None  # drop root's supplementary groups

    def _initdb(self) -> None:
        root = self.root
        if self._user is not None:
            os.chown(root, *self._user)
            # The postgres user must be able to walk down to its data dir.
            for p in root.parents:
                st = p.stat()
                if not (st.st_mode & stat.S_IXOTH or st.st_uid == self._user[0]):
                    raise LabError(f"user postgres cannot enter {p}: give TempPostgres a "
                                   "base_dir under a world-searchable folder (e.g. /tmp)")
        proc = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
             "--no-locale", "-E", "UTF8", "--auth=trust"],
            cwd=root, env=_ENV, capture_output=True, timeout=120, check=False,
            user=self._uid, group=self._gid, extra_groups=self._groups)
        if proc.returncode != 0:
            raise LabError(f"initdb failed: {proc.stderr.decode(errors='replace')}")
        settings = {
            "listen_addresses": _quote(self.host),
            "port": str(self.port),
            "unix_socket_directories": _quote(str(root)),
            "fsync": "on",
            "shared_buffers": "256MB",
            "max_connections": "200",
            "logging_collector": "off",  # stderr goes to postgres.log (see _launch)
        }
        with (self.data_dir / "postgresql.conf").open("a") as f:
            f.write("\n# netatlas TempPostgres (last, so these win)\n")
            f.writelines(f"{k} = {v}\n" for k, v in settings.items())

    def _launch(self) -> None:
        self._reap_orphans()
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.root, env=_ENV, start_new_session=True,  # Ctrl-C is not for it
                user=self._uid, group=self._gid, extra_groups=self._groups)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready():
            if self._proc.poll() is not None:
                raise LabError(f"postgres exited ({self._proc.returncode}) before it was "
                               f"ready; {self.log_file}:\n{log_tail(self.log_file)}")
            if time.monotonic() > deadline:
                raise LabError(f"postgres not ready after {READY_TIMEOUT:.0f} s; "
                               f"{self.log_file}:\n{log_tail(self.log_file)}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        # Our postmaster has written "ready" into its PID file (so whatever answers on
        # the port is ours, not a server that held the port first) and accepts sessions.
        assert self._proc is not None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        if len(lines) < 8 or lines[0] != str(self._proc.pid) or lines[7].strip() != "ready":
            return False
        probe = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port),
             "-U", "postgres", "-d", "postgres", "-t", "2"],
            env=_ENV, capture_output=True, timeout=10, check=False)
        return probe.returncode == 0

    def _shutdown(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: roll back sessions, checkpoint
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        self._reap_orphans()

    def _reap_orphans(self) -> None:
        """Wait for the backends of a killed postmaster to exit; SIGKILL stragglers (they
        are still ours: same PID and start time)."""
        deadline = time.monotonic() + ORPHAN_TIMEOUT
        while self._orphans and time.monotonic() < deadline:
            self._orphans = [c for c in self._orphans if alive(c)]
            time.sleep(0.05)
        for c in self._orphans:
            if alive(c):
                os.kill(c.pid, signal.SIGKILL)
        while any(alive(c) for c in self._orphans):  # SIGKILL takes a moment to land
            time.sleep(0.05)
        self._orphans = []

    def _name(self, name: str) -> str:
        if not _DB_NAME.fullmatch(name):
            raise ValueError(f"database name must match {_DB_NAME.pattern}: {name!r}")
        return name

    def _client(self, tool: str, *args: str) -> None:
        """Run one of PostgreSQL's own client programs against this server (netatlas
        writes no SQL outside its store)."""
        proc = subprocess.run(
            [str(PG_BIN / tool), "-h", self.host, "-p", str(self.port), "-U", "postgres",
             "-w", *args], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise LabError(f"{tool} {' '.join(args)}: {proc.stderr.strip()[:500]}")
