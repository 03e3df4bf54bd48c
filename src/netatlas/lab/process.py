"""Start, watch and stop lab daemons by PID.

A PID file holds the PID and the process start time from /proc, so a PID reused by an
unrelated process after a reboot or a crash is never mistaken for ours, let alone
signalled. Nothing here looks processes up by name.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from netatlas.lab.sockets import bound_sockets

_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
# Popen objects of daemons started by this Python process: kept so they can be reaped
# (a dead child not waited for stays a zombie and would look alive to kill(pid, 0)).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True)
class PidRecord:
    pid: int
    start: int  # field 22 of /proc/<pid>/stat, in clock ticks since boot


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) of ``pid``, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[19])


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(rec: PidRecord) -> bool:
    _reap(rec.pid)
    st = _stat(rec.pid)
    return st is not None and st[0] not in ("Z", "X") and st[1] == rec.start


def read_pidfile(path: Path) -> PidRecord | None:
    try:
        pid_s, start_s = path.read_text().split()[:2]
        return PidRecord(int(pid_s), int(start_s))
    except (OSError, ValueError):
        return None


def write_pidfile(path: Path, rec: PidRecord) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{rec.pid} {rec.start}\n")
    tmp.replace(path)


def spawn(argv: list[str], log: Path, *, cwd: Path, uid: int | None = None,
          gid: int | None = None) -> PidRecord:
    """Start ``argv`` in its own session (so a Ctrl-C in the caller's terminal does not
    reach it), output appended to ``log``, with a minimal environment."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, env=_ENV,
                                start_new_session=True, user=uid, group=gid,
                                extra_groups=[] if uid is not None else None)
    _CHILDREN[proc.pid] = proc
    st = _stat(proc.pid)
    return PidRecord(proc.pid, st[1] if st else 0)


def exit_status(pid: int) -> int | None:
    child = _CHILDREN.get(pid)
    return child.returncode if child is not None else None


def accepts(ip: str, port: int, timeout: float = 1.0) -> bool:
    """Does ``ip:port`` complete a TCP handshake? (The connection is closed at once.)"""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def answers_http(ip: str, port: int, path: str, timeout: float = 2.0) -> bool:
    """Does a plain HTTP GET of ``path`` get a status line back (any status)?"""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", path)
        conn.getresponse().close()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def ready(rec: PidRecord, endpoints: list[tuple[str, int]],
          udp: list[tuple[str, int]] | None = None, http_path: str | None = None) -> bool:
    """The process itself holds a listening socket on every endpoint (not some other
    process on the same port) and each accepts a connection (with ``http_path``: answers
    a GET of it); ``udp`` endpoints: it holds a socket bound there (read from
    /proc/net/udp)."""
    socks = bound_sockets(rec.pid)
    bound = {(b.ip, b.port) for b in socks if b.transport == "tcp"}
    if not all(ep in bound for ep in endpoints):
        return False
    bound_udp = {(b.ip, b.port) for b in socks if b.transport == "udp"}
    if not all(ep in bound_udp for ep in udp or ()):
        return False
    if http_path is not None:
        return all(answers_http(ip, port, http_path) for ip, port in endpoints)
    return all(accepts(ip, port) for ip, port in endpoints)


def stop(rec: PidRecord, sig: signal.Signals = signal.SIGTERM, grace: float = 10.0) -> bool:
    """``sig``, then SIGKILL after ``grace`` seconds; only if ``rec`` is still the process
    we started (same PID and start time). True when it is gone."""
    if rec.pid <= 1 or not alive(rec):
        return True
    for s, wait in ((sig, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(rec.pid, s)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(rec):
                return True
            time.sleep(0.05)
    return not alive(rec)


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def peak_rss_kib(pid: int) -> int:
    """A process's peak RSS so far (VmHWM, KiB; 0 once it is gone): its own address space
    only. Not wait4's ru_maxrss, which Linux carries over from the parent's address space
    at exec (a child of a 500 MB pytest reports 500 MB however little it uses)."""
    return _status_kib(pid, "VmHWM:")


def rss_kib(pid: int) -> int:
    """A process's resident set now (VmRSS, KiB; 0 once it is gone)."""
    return _status_kib(pid, "VmRSS:")


def descendants(pid: int) -> list[int]:
    """The children of ``pid``, theirs, and so on (from /proc, alive now)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    found = [int(c) for c in f.read().split()]
            except OSError:
                continue
            out += found
            todo += found
    return out


def log_tail(log: Path, limit: int = 2000) -> str:
    try:
        with log.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
