"""Lab daemons: UDP services: SNMP and NTP agents, answered over UDP only."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
