"""Lab daemons: Windows-world and telephony services from Debian: Samba (SMB), xrdp (RDP), Kamailio
(SIP)."""

from __future__ import annotations

from netatlas.lab.daemon import Daemon

DAEMONS: tuple[Daemon, ...] = ()
