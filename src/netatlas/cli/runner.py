"""Which process runs a scan, so that `netatlas scans` can tell a scan still running
from one whose process was killed (kill -9, a reboot, a lost terminal): those never
write "interrupted" themselves.

The record is (host, boot id, pid, process start time): a pid alone is reused, the
start time tells the same pid apart, the boot id tells a reboot apart. A scan with no
record (run by a cluster's workers, or by a server) is not judged here."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from netatlas.store import Store

_KEY = "scan-runner:"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces
    return fields[19] if len(fields) > 19 else None


def _identity(pid: int) -> dict[str, str | int | None]:
    return {"host": socket.gethostname(), "boot": _read("/proc/sys/kernel/random/boot_id"),
            "pid": pid, "start": _start_time(pid)}


def record_runner(store: Store, scan_id: str, pid: int | None = None) -> None:
    """Note that process ``pid`` (this one by default) runs scan ``scan_id``."""
    store.meta_set(_KEY + scan_id, json.dumps(_identity(pid or os.getpid())))


def runner_gone(store: Store, scan_id: str) -> bool:
    """True when the process recorded for ``scan_id`` is known to be gone; False when
    it lives, or when this host cannot tell (no record, another host)."""
    text = store.meta_get(_KEY + scan_id)
    if not text:
        return False
    try:
        rec = json.loads(text)
        pid = int(rec["pid"])
    except (ValueError, KeyError, TypeError):
        return False
    if rec.get("host") != socket.gethostname():
        return False
    boot = _read("/proc/sys/kernel/random/boot_id")
    if boot is not None and rec.get("boot") not in (None, boot):
        return True  # the machine rebooted since
    if rec.get("start") is not None and (now := _start_time(pid)) is not None:
        return now != rec["start"]  # another process now has that pid
    try:
        os.kill(pid, 0)  # no start time to compare: does the pid exist at all?
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, another user's
    return False
