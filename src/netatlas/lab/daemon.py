"""What a lab daemon is, where its files go, and the helpers every prepare function uses.

Every daemon runs in the foreground (so the PID we record is the daemon itself), reads
a config rendered into its own folder of the state dir, and binds only the addresses of
its catalogue entries. Nothing here touches system config.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netatlas.lab.certs import write_private
from netatlas.lab.services import LabError, ServiceSpec


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL server's bin dir (Debian keeps one per major)."""
    found = []
    for p in Path("/usr/lib/postgresql").glob("*/bin/postgres"):
        major = p.parent.parent.name
        if major.isdigit():
            found.append((int(major), p.parent))
    return max(found)[1] if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_bin()


def _typelib(name: str) -> str:
    """A GObject-introspection typelib in Debian's multiarch folder (the library a lab
    daemon run by Debian's Python binds to)."""
    found = sorted(Path("/usr/lib").glob(f"*/girepository-1.0/{name}.typelib"))
    return str(found[0]) if found else f"/usr/lib/x86_64-linux-gnu/girepository-1.0/{name}.typelib"

# Where scripts/install-system-deps.sh unpacks a package it must not install because
# installing it would remove one the machine has (chrony beside systemd-timesyncd): the
# package's files under this root, nothing registered with dpkg.
UNPACKED = Path(os.environ.get("NETATLAS_LAB_UNPACKED", "/opt/netatlas-lab/unpacked"))


def unpacked_or_installed(path: str) -> str:
    """``path`` when installed, else its unpacked copy if there is one, else ``path``."""
    if Path(path).exists():
        return path
    copy = UNPACKED / path.lstrip("/")
    return str(copy) if copy.exists() else path


def app_site_packages(app: str) -> Path:
    """The site-packages of a lab app's own virtualenv (``.venv/apps/<app>``, made by
    scripts/install-lab-apps.sh beside this Python's environment)."""
    major, minor = sys.version_info[:2]
    return (Path(sys.executable).parent.parent / "apps" / app / "lib"
            / f"python{major}.{minor}" / "site-packages")


# Absolute paths: sshd refuses to start unless exec'd by absolute path, and nothing
# here should depend on $PATH.
BINARIES: dict[str, str] = {
    "nginx": "/usr/sbin/nginx",
    "sshd": "/usr/sbin/sshd",
    "redis": "/usr/bin/redis-server",
    "vsftpd": "/usr/sbin/vsftpd",
    "postgres": str(PG_BIN / "postgres"),
    "memcached": "/usr/bin/memcached",
    "exim": "/usr/sbin/exim4",
    "apache2": "/usr/sbin/apache2",
    "lighttpd": "/usr/sbin/lighttpd",
    "dovecot": "/usr/sbin/dovecot",
    "mariadb": "/usr/sbin/mariadbd",
    "mosquitto": "/usr/sbin/mosquitto",
    "haproxy": "/usr/sbin/haproxy",
    "squid": "/usr/sbin/squid",
    "etcd": "/usr/bin/etcd",
    "prometheus": "/usr/bin/prometheus",
    "dnsmasq": "/usr/sbin/dnsmasq",
    "slapd": "/usr/sbin/slapd",
    "krb5kdc": "/usr/sbin/krb5kdc",
    "snmpd": "/usr/sbin/snmpd",
    "chrony": unpacked_or_installed("/usr/sbin/chronyd"),
    "smbd": "/usr/sbin/smbd",
    "xrdp": "/usr/sbin/xrdp",
    "kamailio": "/usr/sbin/kamailio",
    # a PyPI server installed in this Python's environment (the venv), not a Debian package
    "jupyter": str(Path(sys.executable).parent / "jupyter-server"),
    "influxdb": "/usr/bin/influxd",
    "tomcat": "/usr/share/tomcat10/bin/catalina.sh",
    "nats": "/usr/sbin/nats-server",
    "zookeeper": "/usr/share/java/zookeeper.jar",  # run by the JRE tomcat10 brings
    # gst-rtsp-server's typelib: Debian's Python (PyGObject) runs it (lab/rtspd.py)
    "gst-rtsp": _typelib("GstRtspServer-1.0"),
    "tensorboard": str(Path(sys.executable).parent / "tensorboard"),
    "streamlit": str(Path(sys.executable).parent / "streamlit"),
    # PyPI servers run by lab/icsd.py; the console script proves the package is installed
    "pymodbus": str(Path(sys.executable).parent / "pymodbus.simulator"),
    "snap7": str(Path(sys.executable).parent / "snap7-server"),
    "bacpypes3": sys.executable,  # no console script: lab/icsd.py imports the package
    "rsync": "/usr/bin/rsync",
    "xvfb": "/usr/bin/Xvfb",  # behind lab/x11fwd.py, run by this Python
    "clickhouse": "/usr/sbin/clickhouse-server",
    # PyPI servers in virtualenvs of their own (lab/pipelines.py)
    "spark": str(app_site_packages("spark") / "pyspark" / "bin" / "spark-class"),
    "airflow": str(app_site_packages("airflow").parent.parent.parent / "bin" / "airflow"),
    "podman": "/usr/bin/podman",
}
# Kinds whose binary comes from PyPI rather than a Debian package.
PYPI_KINDS = frozenset({"tensorboard", "streamlit", "jupyter", "pymodbus", "snap7", "bacpypes3",
                        "spark", "airflow"})
SSH_KEYGEN = "/usr/bin/ssh-keygen"
MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"
FTP_PASV = (40000, 40009)


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where the lab keeps its files: one folder per daemon plus the shared TLS pair."""

    root: Path

    def dir(self, daemon: str) -> Path:
        return self.root / daemon

    @property
    def cert(self) -> Path:
        return self.root / "tls" / "lab.crt"

    @property
    def key(self) -> Path:
        return self.root / "tls" / "lab.key"

    def log(self, daemon: str) -> Path:
        return self.dir(daemon) / f"{daemon}.log"


# prepare(workspace, daemon dir, catalogue entries) -> argv
Prepare = Callable[[Workspace, Path, tuple[ServiceSpec, ...]], list[str]]


@dataclass(frozen=True, slots=True)
class Daemon:
    name: str
    kind: str  # key of BINARIES, and of versions.binary_version
    prepare: Prepare
    user: str | None = None  # run as this user instead of root
    stop_signal: signal.Signals = signal.SIGTERM
    ready_timeout: float = 30.0
    # An app that binds its port before it can answer (a Python web app still loading
    # its extensions) is ready once a GET of this path answers on every TCP endpoint.
    ready_path: str | None = None

    def specs(self, entries: tuple[ServiceSpec, ...]) -> tuple[ServiceSpec, ...]:
        """This daemon's endpoints within the catalogue ``entries``."""
        return tuple(s for s in entries if s.daemon == self.name)

    @property
    def binary(self) -> str:
        return BINARIES[self.kind]


# -- helpers ------------------------------------------------------------------------------

def ids(user: str) -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(user)
    except KeyError as exc:
        raise LabError(f"system user {user!r} is missing: run scripts/install-system-deps.sh"
                       ) from exc
    return pw.pw_uid, pw.pw_gid


def mkdir(path: Path, mode: int = 0o755, owner: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if owner:
        os.chown(path, *ids(owner))
    return path


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def copy_tls(ws: Workspace, d: Path, owner: str) -> None:
    """A private copy of the lab cert and key that ``owner`` alone can read (postgres
    and exim insist on owning their key file)."""
    uid, gid = ids(owner)
    shutil.copyfile(ws.cert, d / "tls.crt")
    (d / "tls.crt").chmod(0o644)
    write_private(d / "tls.key", ws.key.read_bytes(), uid, gid)


def one(specs: tuple[ServiceSpec, ...]) -> ServiceSpec:
    assert len(specs) == 1, specs
    return specs[0]


def by_name(specs: tuple[ServiceSpec, ...], name: str) -> ServiceSpec:
    return next(s for s in specs if s.name == name)
