"""Lab daemons: UDP services: SNMP and NTP agents, answered over UDP only.

Net-SNMP's snmpd reads only our config (-C -c), logs to stdout (-Lo), stays in the
foreground (-f) and keeps its persistent state in its workspace. NTP is chrony: ntpd
(ntpsec) always listens on 127.0.0.1 and [::1] as well, whatever its interface lines
say, while chronyd binds exactly the address it is given; it serves its own clock
(``local stratum``), never contacts a server, and does not touch the system clock (-x).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from netatlas.lab.certs import write_private
from netatlas.lab.daemon import BINARIES, Daemon, Prepare, Workspace, mkdir, one, write
from netatlas.lab.services import ServiceSpec


def _snmpd(community: str | None) -> Prepare:
    """``community`` None: a random one, kept in the workspace (so no finding)."""

    def prepare(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
        spec = one(specs)
        mkdir(d, 0o700)
        name = community
        if name is None:
            secret = d / "community"
            if not secret.exists():
                write_private(secret, secrets.token_hex(12).encode())
            name = secret.read_text().strip()
        conf = write(d / "snmpd.conf", "\n".join((
            f"agentaddress udp:{spec.ip}:{spec.port}",
            f"rocommunity {name} 127.0.0.0/8",  # read-only, loopback clients only
            "sysLocation netatlas lab",
            "sysContact lab@netatlas.test",
            f"sysName {spec.name}.lab.netatlas.test",
            "",
        )), 0o600)
        # env execs snmpd (same PID); MIBS empty: no MIB files to parse at start-up;
        # -I -smux: no SMUX listener (it would bind 0.0.0.0:199/tcp)
        return ["/usr/bin/env", f"SNMP_PERSISTENT_DIR={d / 'persist'}", "MIBS=",
                BINARIES["snmpd"], "-f", "-Lo", "-C", "-c", str(conf), "-I", "-smux"]

    return prepare


def _chrony(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755, "_chrony")  # chronyd drops to _chrony after binding
    conf = write(d / "chrony.conf", "\n".join((
        f"bindaddress {spec.ip}",
        f"port {spec.port}",
        "cmdport 0",  # no command port ...
        "bindcmdaddress /",  # ... and no command socket outside the workspace
        "allow 127.0.0.0/8",  # serve time to loopback clients only
        "local stratum 10",  # serve its own clock; no server lines: never polls anyone
        f"driftfile {d / 'drift'}",
        f"pidfile {d / 'chronyd.pid'}",
        "",
    )))
    return [BINARIES["chrony"], "-d", "-x", "-f", str(conf)]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("snmpd", "snmpd", _snmpd("public")),
    Daemon("snmpd-private", "snmpd", _snmpd(None)),
    Daemon("chrony", "chrony", _chrony),
)
