"""Versions read from the installed binaries at run time, never hard-coded: the ground
truth must follow whatever Debian has installed on this machine."""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from netatlas.lab.daemon import BINARIES, app_site_packages

_TIMEOUT = 10.0


def _run(argv: list[str], *, stdin_is_output: bool = False) -> str:
    """stdout+stderr of ``argv``; '' when the binary is missing or fails to run."""
    try:
        if stdin_is_output:
            # vsftpd -v writes its version to fd 0, so give it a file it can write to.
            with tempfile.TemporaryFile("w+b") as f:
                subprocess.run(argv, stdin=f, stdout=f, stderr=f, timeout=_TIMEOUT,
                               check=False)
                f.seek(0)
                return f.read(4096).decode("utf-8", "replace")
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (proc.stdout + proc.stderr)[:4096].decode("utf-8", "replace")


def _search(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def _sshd_version(binary: str) -> str | None:
    # `sshd -V` prints "OpenSSH_9.2" without the portable suffix the banner carries
    # ("9.2p1"), so read the release string compiled into the binary itself.
    try:
        data = Path(binary).read_bytes()
    except OSError:
        return None
    m = re.search(rb"OpenSSH_(\d+\.\d+(?:\.\d+)?p\d+)", data)
    if m:
        return m.group(1).decode()
    return _search(r"OpenSSH_(\d[\w.]*)", _run([binary, "-V"]))


@functools.cache
def binary_version(daemon_kind: str) -> str | None:
    """Version of the binary behind ``daemon_kind`` (nginx, sshd, redis, vsftpd, postgres,
    memcached, exim), or None when it is not installed."""
    binary = BINARIES[daemon_kind]
    if not Path(binary).exists():
        return None
    match daemon_kind:
        case "nginx":
            return _search(r"nginx/(\S+)", _run([binary, "-v"]))
        case "sshd":
            return _sshd_version(binary)
        case "redis":
            return _search(r"\bv=(\S+)", _run([binary, "--version"]))
        case "vsftpd":
            return _search(r"version (\S+)", _run([binary, "-v"], stdin_is_output=True))
        case "postgres":
            return _search(r"\(PostgreSQL\) (\S+)", _run([binary, "--version"]))
        case "memcached":
            return _search(r"memcached (\S+)", _run([binary, "-V"]))
        case "exim":
            return _search(r"Exim version (\S+)", _run([binary, "-bV"]))
        case "zookeeper":  # the release is in the versioned jar's name beside it
            jars = sorted(Path(binary).parent.glob("zookeeper-[0-9]*.jar"))
            return _search(r"zookeeper-(\d[\d.]*\d)\.jar$", jars[-1].name) if jars else None
        case "gst-rtsp":  # the library the server is; its Server header names no release
            return _search(r"^(\d[\d.]*\d)", _run(["/usr/bin/dpkg-query", "-W", "-f=${Version}",
                                                  "gir1.2-gst-rtsp-server-1.0"]))
        case "xvfb":  # Xvfb -version says "1.21.1.7"; the release is xorg-server 21.1.7
            return _search(r"^\d+:(\d[\d.]*\d)", _run(["/usr/bin/dpkg-query", "-W",
                                                       "-f=${Version}", "xvfb"]))
        case "clickhouse":  # 18.16's server has no --version; Debian's package says it
            return _search(r"^(\d[\d.]*\d)", _run(["/usr/bin/dpkg-query", "-W",
                                                  "-f=${Version}", "clickhouse-server"]))
        case "krb5kdc":  # the KDC prints no version; klist is the same krb5 release
            return _search(r"Kerberos 5 version (\S+)", _run(["/usr/bin/klist", "-V"]))
    if daemon_kind in _PYPI_DISTS:
        return _dist_version(_PYPI_DISTS[daemon_kind])
    if daemon_kind in _APP_DISTS:
        app, dist = _APP_DISTS[daemon_kind]
        found = list(metadata.distributions(name=dist, path=[str(app_site_packages(app))]))
        return found[0].version if found else None
    if daemon_kind in _SIMPLE:
        flag, pattern = _SIMPLE[daemon_kind]
        return _search(pattern, _run([binary, flag]))
    raise KeyError(daemon_kind)


# kind -> (flag that prints the version, regex whose group 1 is it). Debian repack
# suffixes ("2.42.0+ds") are left out: the upstream release is what a scanner can name.
_SIMPLE: dict[str, tuple[str, str]] = {
    "apache2": ("-v", r"Apache/(\d[\d.]*)"),
    "lighttpd": ("-v", r"lighttpd/(\d[\d.]*)"),
    "dovecot": ("--version", r"^(\d[\d.]*)"),
    "mariadb": ("--version", r"Ver (\d[\d.]*)-MariaDB"),
    "mosquitto": ("-h", r"mosquitto version (\d[\d.]*)"),
    "haproxy": ("-v", r"HAProxy version (\d[\d.]*)"),
    "squid": ("-v", r"Squid Cache: Version (\d[\d.]*)"),
    "etcd": ("--version", r"etcd Version: (\d[\d.]*)"),
    "prometheus": ("--version", r"prometheus, version (\d[\d.]*\d)"),
    "dnsmasq": ("--version", r"Dnsmasq version (\d[\d.]*)"),
    "slapd": ("-VV", r"slapd (\d[\d.]*\d)"),
    "snmpd": ("-v", r"NET-SNMP version:\s+(\d[\d.]*\d)"),
    "chrony": ("--version", r"chronyd \(chrony\) version (\d[\d.]*\d)"),
    "smbd": ("--version", r"Version (\d[\d.]*\d)"),
    "xrdp": ("--version", r"xrdp (\d[\d.]*\d)"),
    "kamailio": ("-v", r"kamailio (\d[\d.]*\d)"),
    "jupyter": ("--version", r"^(\d[\d.]*\d)"),
    "influxdb": ("version", r"InfluxDB v(\d[\d.]*\d)"),  # v1.6.7~rc0: an rc, named 1.6.7
    "tomcat": ("version", r"Apache Tomcat/(\d[\d.]*\d)"),
    "tensorboard": ("--version", r"^(\d[\d.]*\d)"),
    "streamlit": ("version", r"Streamlit, version (\d[\d.]*\d)"),
    "nats": ("--version", r"nats-server: v(\d[\d.]*\d)"),
    "rsync": ("--version", r"rsync\s+version v?(\d[\d.]*\d)"),
    "podman": ("--version", r"podman version (\d[\d.]*\d)"),
}


# kind -> PyPI distribution whose installed metadata gives the server's version
_PYPI_DISTS: dict[str, str] = {
    "pymodbus": "pymodbus",
    "snap7": "python-snap7",
    "bacpypes3": "bacpypes3",
}


# kind -> (lab app virtualenv, PyPI distribution): servers in environments of their own
_APP_DISTS: dict[str, tuple[str, str]] = {
    "spark": ("spark", "pyspark"),
    "airflow": ("airflow", "apache-airflow"),
}


def _dist_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
