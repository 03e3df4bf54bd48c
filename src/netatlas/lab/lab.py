"""``Lab``: bring the catalogue up, report on it, bring it down — by recorded PIDs only."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from netatlas.lab.certs import ensure_cert
from netatlas.lab.daemons import DAEMON_BY_NAME, DAEMONS, Daemon, Workspace
from netatlas.lab.process import (
    PidRecord,
    accepts,
    alive,
    exit_status,
    log_tail,
    read_pidfile,
    ready,
    spawn,
    stop,
    write_pidfile,
)
from netatlas.lab.services import LAB_NET, LabError, LabService, ServiceSpec, catalogue
from netatlas.lab.sockets import bound_sockets, udp_bound
from netatlas.lab.versions import binary_version

DEFAULT_STATE_DIR = Path("/tmp/netatlas-lab")


def default_state_dir(net: str = LAB_NET) -> Path:
    """$NETATLAS_LAB_DIR, else /tmp/netatlas-lab (a lab moved to another net gets its own
    folder, so its PID files never mix with the default lab's)."""
    env = os.environ.get("NETATLAS_LAB_DIR")
    if env:
        return Path(env)
    if net == LAB_NET:
        return DEFAULT_STATE_DIR
    return DEFAULT_STATE_DIR.with_name(f"netatlas-lab-{net.split('/')[0]}")


class Lab:
    """The local range of real services on 127.20.0.x.

    ``up()`` is idempotent, ``down()`` stops only the PIDs this lab recorded, and every
    daemon binds only its own loopback address (checked after start, from /proc).
    """

    def __init__(self, state_dir: Path | None = None, net: str | None = None) -> None:
        self.net = net or os.environ.get("NETATLAS_LAB_NET") or LAB_NET
        self.catalogue = catalogue(self.net)
        self.state_dir = (state_dir or default_state_dir(self.net)).absolute()
        self._ws = Workspace(self.state_dir)

    # -- public --------------------------------------------------------------------------

    def up(self, names: Iterable[str] | None = None,
           installed_only: bool = False) -> list[LabService]:
        """Start every daemon (or those serving the named services) not already running,
        wait until each accepts connections on all its endpoints, and return the status
        of the whole catalogue. A daemon whose binary is missing is an error, or, with
        ``installed_only``, left out (``not_installed`` says which)."""
        daemons = self._select(names)
        _require_root()
        if installed_only:
            daemons = [d for d in daemons if d not in self.not_installed(daemons)]
        self._require_binaries(daemons)
        self._make_state_dir()
        errors: list[str] = []
        with self._locked():
            ensure_cert(self._ws.cert, self._ws.key, sorted({s.ip for s in self.catalogue}))
            started: dict[str, PidRecord] = {}
            for daemon in daemons:
                rec = self._record(daemon)
                if rec is not None and alive(rec):
                    continue
                try:
                    started[daemon.name] = self._start(daemon)
                except (LabError, OSError) as exc:
                    errors.append(f"{daemon.name}: {exc} (log: {self._ws.log(daemon.name)})")
            errors += self._wait_ready(started)
            errors += self._check_bindings()
        if errors:
            raise LabError("lab up failed:\n  " + "\n  ".join(errors))
        return self.status()

    def status(self) -> list[LabService]:
        """Every catalogue entry, with its version and whether its daemon runs."""
        out = []
        for spec in self.catalogue:
            daemon = DAEMON_BY_NAME[spec.daemon]
            rec = self._record(daemon)
            running = rec is not None and alive(rec)
            out.append(LabService(
                name=spec.name, ip=spec.ip, port=spec.port, transport=spec.transport,
                service=spec.service, product=spec.product,
                version=binary_version(daemon.kind), tls=spec.tls, running=running,
                pid=rec.pid if running and rec else None,
                version_visible=spec.version_visible, tags=spec.tags, core=spec.core,
            ))
        return out

    def ground_truth(self) -> list[LabService]:
        """What a perfect scan of the lab should find: the catalogue with the versions
        of the installed binaries (and, for convenience, the current running state)."""
        return self.status()

    def down(self, names: Iterable[str] | None = None) -> None:
        """Stop the daemons (all, or those serving the named services) by their recorded
        PIDs: their stop signal, then SIGKILL after a grace period."""
        daemons = self._select(names)
        errors = []
        with self._locked():
            for daemon in daemons:
                pidfile = self._pidfile(daemon)
                rec = read_pidfile(pidfile)
                if rec is not None and not stop(rec, daemon.stop_signal):
                    errors.append(f"{daemon.name}: pid {rec.pid} did not stop")
                    continue
                pidfile.unlink(missing_ok=True)
                if rec is not None:
                    self._wait_closed(daemon)
        if errors:
            raise LabError("lab down failed:\n  " + "\n  ".join(errors))

    def log_file(self, name: str) -> Path:
        """The log of the daemon behind service (or daemon) ``name``."""
        return self._ws.log(self._select([name])[0].name)

    # -- internals -----------------------------------------------------------------------

    def _specs(self, daemon: Daemon) -> tuple[ServiceSpec, ...]:
        return daemon.specs(self.catalogue)

    def _pidfile(self, daemon: Daemon) -> Path:
        return self.state_dir / "run" / f"{daemon.name}.pid"

    def _record(self, daemon: Daemon) -> PidRecord | None:
        return read_pidfile(self._pidfile(daemon))

    def _select(self, names: Iterable[str] | None) -> list[Daemon]:
        if names is None:
            return list(DAEMONS)
        by_service = {s.name: s.daemon for s in self.catalogue}
        chosen: set[str] = set()
        for n in names:
            if n in DAEMON_BY_NAME:
                chosen.add(n)
            elif n in by_service:
                chosen.add(by_service[n])
            else:
                raise LabError(f"no lab service named {n!r}")
        return [d for d in DAEMONS if d.name in chosen]

    def not_installed(self, daemons: Iterable[Daemon] | None = None) -> list[Daemon]:
        """The daemons (of all, or of ``daemons``) whose binary this machine lacks:
        install-system-deps.sh leaves out a package that would remove one the machine
        has."""
        return [d for d in (DAEMONS if daemons is None else daemons)
                if not Path(d.binary).exists()]

    def _require_binaries(self, daemons: Iterable[Daemon]) -> None:
        missing = sorted({d.binary for d in daemons if not Path(d.binary).exists()})
        if missing:
            raise LabError("not installed: " + ", ".join(missing)
                           + " (run scripts/install-system-deps.sh; PyPI servers such as "
                           "jupyter-server come with the dev extras: pip install -e '.[dev]')")

    def _make_state_dir(self) -> None:
        for sub in (self.state_dir, self.state_dir / "run", self.state_dir / "tls"):
            sub.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o755)
        (self.state_dir / "tls").chmod(0o700)
        # One state dir serves one net: PID files must never describe another lab.
        net_file = self.state_dir / "net"
        if not net_file.exists():
            net_file.write_text(self.net + "\n")
        elif net_file.read_text().strip() != self.net:
            raise LabError(f"{self.state_dir} holds the lab for {net_file.read_text().strip()}"
                           f", not {self.net}: use another state dir")
        # PostgreSQL runs as `postgres`: every folder above its data must let it through.
        pg_uid = pwd.getpwnam("postgres").pw_uid
        for p in (self.state_dir, *self.state_dir.parents):
            st = p.stat()
            if not (st.st_mode & stat.S_IXOTH or st.st_uid == pg_uid):
                raise LabError(f"postgresql: user postgres cannot enter {p}; choose a lab "
                               f"state dir under a world-searchable path (NETATLAS_LAB_DIR)")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One up()/down() at a time per state dir, across processes."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _start(self, daemon: Daemon) -> PidRecord:
        self._pidfile(daemon).unlink(missing_ok=True)
        for spec in self._specs(daemon):
            if udp_bound(spec.ip, spec.port) if spec.transport == "udp" else \
                    accepts(spec.ip, spec.port, timeout=0.5):
                raise LabError(f"{spec.name}: {spec.ip}:{spec.port} is already taken by a "
                               f"process this lab did not start (state dir {self.state_dir})")
        d = self._ws.dir(daemon.name)
        d.mkdir(parents=True, exist_ok=True)
        argv = daemon.prepare(self._ws, d, self._specs(daemon))
        uid = gid = None
        if daemon.user:
            pw = pwd.getpwnam(daemon.user)
            uid, gid = pw.pw_uid, pw.pw_gid
        log = self._ws.log(daemon.name)
        with log.open("ab") as f:
            f.write(f"--- netatlas lab: starting {' '.join(argv)}\n".encode())
        rec = spawn(argv, log, cwd=d, uid=uid, gid=gid)
        write_pidfile(self._pidfile(daemon), rec)
        return rec

    def _wait_ready(self, started: dict[str, PidRecord]) -> list[str]:
        errors = []
        pending = {
            name: time.monotonic() + DAEMON_BY_NAME[name].ready_timeout for name in started
        }
        while pending:
            for name, deadline in list(pending.items()):
                daemon, rec = DAEMON_BY_NAME[name], started[name]
                endpoints = [(s.ip, s.port) for s in self._specs(daemon) if s.transport == "tcp"]
                udp = [(s.ip, s.port) for s in self._specs(daemon) if s.transport == "udp"]
                log = self._ws.log(name)
                failure = None
                if not alive(rec):
                    failure = f"exited during start-up (status {exit_status(rec.pid)})"
                elif ready(rec, endpoints, udp, daemon.ready_path):
                    del pending[name]
                    continue
                elif time.monotonic() > deadline:
                    stop(rec, daemon.stop_signal)
                    where = ", ".join([f"{ip}:{port}" for ip, port in endpoints]
                                      + [f"{ip}:{port}/udp" for ip, port in udp])
                    failure = (f"not accepting connections on {where} after "
                               f"{daemon.ready_timeout:.0f}s")
                if failure:
                    del pending[name]
                    self._pidfile(daemon).unlink(missing_ok=True)
                    errors.append(f"{name}: {failure}; log {log}:\n{_indent(log_tail(log))}")
            if pending:
                time.sleep(0.1)
        return errors

    def _wait_closed(self, daemon: Daemon, timeout: float = 5.0) -> None:
        """Give a stopped daemon's last children (a session ending) a moment to let go of
        the listening socket, so "down" means the endpoints refuse connections."""
        deadline = time.monotonic() + timeout
        endpoints = [(s.ip, s.port, s.transport) for s in self._specs(daemon)]
        while time.monotonic() < deadline and any(
                udp_bound(ip, p) if t == "udp" else accepts(ip, p, 0.2) for ip, p, t in endpoints):
            time.sleep(0.1)

    def _check_bindings(self) -> list[str]:
        """Stop any daemon found bound outside its own addresses (0.0.0.0, [::], ...)."""
        errors = []
        for daemon in DAEMONS:
            rec = self._record(daemon)
            if rec is None or not alive(rec):
                continue
            allowed = {s.ip for s in self._specs(daemon)}
            stray = [b for b in bound_sockets(rec.pid) if b.ip not in allowed]
            if stray:
                stop(rec, daemon.stop_signal)
                self._pidfile(daemon).unlink(missing_ok=True)
                where = ", ".join(f"{b.ip}:{b.port}/{b.transport}" for b in stray)
                errors.append(f"{daemon.name}: bound {where}, outside its own address; "
                              f"stopped it (log {self._ws.log(daemon.name)})")
        return errors


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (privileged ports, sshd, users postgres/nobody)")


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.strip().splitlines()[-15:])
