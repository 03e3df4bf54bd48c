"""Lab daemons: Web servers with weak TLS on purpose: legacy protocol versions, expired and
mismatched certificates, short keys."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
