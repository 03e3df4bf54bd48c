"""Lab daemons: Industrial protocols (Modbus, S7, BACnet/IP) from PyPI servers, answering read-only
identification requests. The servers themselves are started by lab/icsd.py, in this
Python (the venv that has the dev extras)."""

from __future__ import annotations

import sys
from pathlib import Path

from netatlas.lab.daemon import Daemon, Prepare, Workspace, mkdir
from netatlas.lab.services import ServiceSpec


def _icsd(kind: str) -> Prepare:
    def prepare(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
        mkdir(d, 0o755)
        # -m runs in this interpreter: the same PID as the server, no shell in between
        return [sys.executable, "-m", "netatlas.lab.icsd", kind,
                *(f"{s.ip}:{s.port}" for s in specs)]

    return prepare


DAEMONS: tuple[Daemon, ...] = (
    Daemon("modbus", "pymodbus", _icsd("modbus")),
    Daemon("s7", "snap7", _icsd("s7")),
    Daemon("s7-odd", "snap7", _icsd("s7")),
    Daemon("bacnet", "bacpypes3", _icsd("bacnet")),  # UDP 47808
)
