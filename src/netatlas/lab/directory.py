"""Lab daemons: Directory and naming services on unusual ports (slapd, dnsmasq), for the probe
scheduler."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
