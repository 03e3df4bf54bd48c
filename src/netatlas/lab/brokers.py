"""Lab daemons: messaging and coordination services as Debian ships them, without
authentication — a NATS server (no authorization block) on a port that is not NATS's,
and a standalone ZooKeeper (no SASL, the default world-readable tree) on its own.

epmd is not here: it always binds 127.0.0.1 and [::1] beside the address it is given,
which the lab forbids (tests/grab/test_epmd.py runs the real one on a free port)."""

from __future__ import annotations

from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Workspace, mkdir, one, write
from netatlas.lab.services import ServiceSpec

JAVA = "/usr/bin/java"
ZOOKEEPER_CLASSPATH = f"/etc/zookeeper/conf:{BINARIES['zookeeper']}"

ZOO_CFG = """# netatlas lab ZooKeeper: standalone, one client address, no admin server
tickTime=2000
dataDir={data}
clientPort={port}
clientPortAddress={ip}
admin.enableServer=false
4lw.commands.whitelist=srvr
"""


def _nats(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """nats-server with no authorization: INFO says so, any client may connect."""
    spec = one(specs)
    mkdir(d, 0o755)
    conf = write(d / "nats.conf", f"listen: {spec.ip}:{spec.port}\n"
                                  "# no monitoring port, no cluster, no authorization\n")
    return [BINARIES["nats"], "-c", str(conf)]


def _zookeeper(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    data = mkdir(d / "data", 0o755)
    cfg = write(d / "zoo.cfg", ZOO_CFG.format(data=data, ip=spec.ip, port=spec.port))
    return [JAVA, "-Xmx64m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",  # no /tmp/hsperfdata_*
            "-Djava.net.preferIPv4Stack=true",  # the lab reads /proc/net/tcp
            "-Dzookeeper.jmx.log4j.disable=true", f"-Dzookeeper.log.dir={d}",
            "-cp", ZOOKEEPER_CLASSPATH,
            "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg)]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("nats", "nats", _nats),
    Daemon("zookeeper", "zookeeper", _zookeeper, ready_timeout=60.0),
)
