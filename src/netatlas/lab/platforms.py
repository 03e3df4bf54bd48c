"""Lab daemons: data platforms as Debian ships them. ClickHouse (Debian's
clickhouse-server) twice, each with Debian's own config.xml and users.xml copied unchanged
into its folder and one file in config.d beside them that moves it onto the lab: its
ports, its one listen address, its data folder, the log on the console, no
inter-server port. With Debian's users.xml the ``default`` user has no password and is
allowed from anywhere (``::/0``): its HTTP interface runs any query for anyone, on ports
that are not ClickHouse's own. The other one's ``default`` user has a password set in
config.d (a random one nobody uses), on ClickHouse's usual ports. Podman's Docker-compatible
API (Debian's podman, ``podman system service``) over TCP without authentication, as a
rootful Podman serves it to anyone who can connect, on a port that is not Docker's; its
storage, run and temp folders are the lab's own."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from netatlas.lab.certs import write_private
from netatlas.lab.daemon import BINARIES, Daemon, Workspace, mkdir, one, write
from netatlas.lab.services import LabError, ServiceSpec

DEBIAN_CONFIG = Path("/etc/clickhouse-server")

# ClickHouse's ConfigProcessor merges config.d/*.xml into config.xml by element name;
# replace="1" swaps a whole element, remove="1" drops it.
CLICKHOUSE_LAB_XML = """<?xml version="1.0"?>
<!-- netatlas lab: Debian's config.xml, moved onto one loopback address of the lab -->
<yandex>
  <logger replace="1"><level>warning</level><console>1</console></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <interserver_http_port remove="1"/>
  <listen_host>{ip}</listen_host>
  <path>{data}/</path>
  <tmp_path>{data}/tmp/</tmp_path>
  <user_files_path>{data}/user_files/</user_files_path>
  <format_schema_path>{data}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
"""
# users.d is merged into users.xml the same way
CLICKHOUSE_PASSWORD_XML = """<?xml version="1.0"?>
<yandex><users><default><password>{password}</password></default></users></yandex>
"""


def _clickhouse(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    http = next(s for s in specs if s.service == "http")
    native = next(s for s in specs if s.service == "clickhouse")
    assert http.ip == native.ip, specs
    for name in ("config.xml", "users.xml"):
        if not (DEBIAN_CONFIG / name).is_file():
            raise LabError(f"{http.name}: {DEBIAN_CONFIG / name} is missing "
                           "(clickhouse-server: scripts/install-system-deps.sh)")
    mkdir(d, 0o755, "clickhouse")
    data = mkdir(d / "data", 0o750, "clickhouse")
    for name in ("config.xml", "users.xml"):
        shutil.copyfile(DEBIAN_CONFIG / name, d / name)
        (d / name).chmod(0o644)
    conf_d = mkdir(d / "config.d", 0o755)
    write(conf_d / "netatlas-lab.xml", CLICKHOUSE_LAB_XML.format(
        http_port=http.port, tcp_port=native.port, ip=http.ip, data=data))
    users_d = mkdir(d / "users.d", 0o755)
    if "auth-required" in http.tags:
        pw_file = d / "password"
        if not pw_file.exists():
            write_private(pw_file, secrets.token_hex(16).encode())
        write(users_d / "netatlas-lab.xml", CLICKHOUSE_PASSWORD_XML.format(
            password=pw_file.read_text().strip()), 0o640)
        shutil.chown(users_d / "netatlas-lab.xml", group="clickhouse")
    else:
        (users_d / "netatlas-lab.xml").unlink(missing_ok=True)
    return [BINARIES["clickhouse"], f"--config-file={d / 'config.xml'}"]


def _podman(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    for sub in ("root", "run", "tmp"):
        mkdir(d / sub, 0o700)
    # cgroupfs and no events: no systemd or journald to talk to; --time=0: never exits
    # for lack of clients
    return [BINARIES["podman"], "--root", str(d / "root"), "--runroot", str(d / "run"),
            "--tmpdir", str(d / "tmp"), "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "none",
            "system", "service", "--time=0", f"tcp:{spec.ip}:{spec.port}"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("clickhouse", "clickhouse", _clickhouse, user="clickhouse", ready_timeout=60.0),
    Daemon("clickhouse-auth", "clickhouse", _clickhouse, user="clickhouse",
           ready_timeout=60.0),
    Daemon("podman-api", "podman", _podman),
)
