"""Lab daemons: Industrial protocols (Modbus, S7) from PyPI servers, answering read-only
identification requests."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
