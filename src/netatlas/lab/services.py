"""The lab's catalogue: which real service answers on which loopback endpoint.

This is the ground truth a perfect scan of 127.20.0.0/24 should find. Each service has
its own address; some sit on non-standard ports so the port number gives nothing away.
Several services may share one daemon (one nginx serves three endpoints).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

# Never used by the lab: port 2024 belongs to something else on this machine.
FORBIDDEN_PORT = 2024

LAB_NET = "127.20.0.0/24"


class LabError(RuntimeError):
    """The lab could not do what was asked; the message names the service and its log."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One endpoint of the catalogue, before anything runs."""

    name: str
    daemon: str  # key in daemons.DAEMONS: the process that serves this endpoint
    ip: str
    port: int
    service: str  # nmap-style service name
    product: str  # canonical product name, as nmap / Shodan spell it
    tls: bool = False  # TLS from the first byte (not STARTTLS / SSLRequest)
    # Can a client learn the version without credentials? (Redis behind requirepass and
    # PostgreSQL before login do not tell it.)
    version_visible: bool = True
    tags: tuple[str, ...] = ()
    transport: str = "tcp"
    # Core services are asserted by the end-to-end scan tests; the others are measured by
    # bench/identify.py (their grabbers and rules are newer).
    core: bool = True


@dataclass(slots=True)
class LabService:
    """A catalogue entry with its version read from the installed binary and its state."""

    name: str
    ip: str
    port: int
    transport: str
    service: str
    product: str
    version: str | None
    tls: bool
    running: bool
    pid: int | None
    version_visible: bool = True
    tags: tuple[str, ...] = ()
    core: bool = True

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}/{self.transport}"


CATALOGUE: tuple[ServiceSpec, ...] = (
    ServiceSpec("nginx-http", "nginx", "127.20.0.2", 80, "http", "nginx"),
    ServiceSpec("nginx-https", "nginx", "127.20.0.2", 443, "http", "nginx", tls=True),
    ServiceSpec("nginx-alt", "nginx", "127.20.0.12", 8081, "http", "nginx"),
    ServiceSpec("ssh", "ssh", "127.20.0.3", 22, "ssh", "OpenSSH"),
    ServiceSpec("ssh-alt", "ssh-alt", "127.20.0.13", 2222, "ssh", "OpenSSH",
                tags=("password-auth",)),
    ServiceSpec("redis", "redis", "127.20.0.4", 6379, "redis", "Redis", tags=("no-auth",)),
    ServiceSpec("redis-auth", "redis-auth", "127.20.0.14", 7000, "redis", "Redis",
                version_visible=False, tags=("auth-required",)),
    ServiceSpec("ftp", "ftp", "127.20.0.5", 21, "ftp", "vsftpd", tags=("anonymous",)),
    ServiceSpec("postgresql", "postgresql", "127.20.0.6", 5432, "postgresql", "PostgreSQL",
                version_visible=False, tags=("ssl-request",)),
    ServiceSpec("memcached", "memcached", "127.20.0.7", 11211, "memcached", "memcached",
                tags=("no-auth",)),
    ServiceSpec("smtp", "smtp", "127.20.0.8", 25, "smtp", "Exim", tags=("starttls",)),
    *(replace(s, core=False) for s in (
        # plain HTTP on a port nmap's tables call https-alt
        ServiceSpec("apache", "apache", "127.20.0.15", 8443, "http", "Apache httpd"),
        # a second Exim that answers VRFY / EXPN (user enumeration), on a submission-ish port
        ServiceSpec("smtp-vrfy", "smtp-vrfy", "127.20.0.9", 2525, "smtp", "Exim",
                    tags=("starttls", "vrfy")),
        ServiceSpec("lighttpd", "lighttpd", "127.20.0.16", 80, "http", "lighttpd"),
        ServiceSpec("memcached-odd", "memcached-odd", "127.20.0.17", 4000, "memcached",
                    "memcached", tags=("no-auth",)),
        # Dovecot's greeting names the product, never its version.
        ServiceSpec("pop3", "dovecot", "127.20.0.18", 110, "pop3", "Dovecot",
                    version_visible=False),
        ServiceSpec("imap", "dovecot", "127.20.0.18", 143, "imap", "Dovecot",
                    version_visible=False),
        # Dovecot with STARTTLS offered: plaintext login still allowed before it on .73,
        # refused before it (LOGINDISABLED) on .74, on an odd port
        ServiceSpec("pop3-starttls", "dovecot-tls", "127.20.0.73", 110, "pop3", "Dovecot",
                    version_visible=False, tags=("starttls",)),
        ServiceSpec("imap-starttls", "dovecot-tls", "127.20.0.73", 143, "imap", "Dovecot",
                    version_visible=False, tags=("starttls",)),
        ServiceSpec("imap-strict", "dovecot-tls", "127.20.0.74", 1143, "imap", "Dovecot",
                    version_visible=False, tags=("starttls", "login-disabled")),
        ServiceSpec("mariadb", "mariadb", "127.20.0.19", 3306, "mysql", "MariaDB"),
        ServiceSpec("mqtt", "mosquitto", "127.20.0.20", 1883, "mqtt", "Mosquitto",
                    tags=("anonymous",)),
        ServiceSpec("haproxy-stats", "haproxy", "127.20.0.21", 8404, "http", "HAProxy"),
        ServiceSpec("squid", "squid", "127.20.0.22", 3128, "http-proxy", "Squid"),
        # forwards to the lab's own /24 for anyone: the open-proxy check's positive case
        ServiceSpec("squid-open", "squid-open", "127.20.0.10", 8118, "http-proxy", "Squid",
                    tags=("open-proxy",)),
        ServiceSpec("etcd", "etcd", "127.20.0.23", 2379, "http", "etcd", tags=("no-auth",)),
        ServiceSpec("prometheus", "prometheus", "127.20.0.24", 9090, "http", "Prometheus"),
        ServiceSpec("dns", "dnsmasq", "127.20.0.25", 53, "domain", "dnsmasq"),
        # well-known services on ports that belong to something else
        ServiceSpec("ssh-odd", "ssh-odd", "127.20.0.26", 443, "ssh", "OpenSSH"),
        ServiceSpec("redis-odd", "redis-odd", "127.20.0.27", 8080, "redis", "Redis",
                    tags=("no-auth",)),
        ServiceSpec("jupyter", "jupyter", "127.20.0.28", 5000, "http", "Jupyter Server"),
        # for the probe scheduler (lab/directory.py): slapd on a port nmap calls ppp and
        # DNS over TCP on an odd port, both silent to our TLS and HTTP probes; slapd tells
        # no version anonymously. A Kerberos KDC none of our grabbers speak.
        ServiceSpec("ldap-odd", "slapd", "127.20.0.35", 3000, "ldap", "OpenLDAP",
                    version_visible=False),
        ServiceSpec("dns-odd", "dnsmasq-odd", "127.20.0.36", 5300, "domain", "dnsmasq"),
        ServiceSpec("kerberos-odd", "krb5kdc", "127.20.0.37", 8888, "kerberos-sec",
                    "MIT Kerberos", version_visible=False),
        # UDP (lab/udp.py): Net-SNMP with community public, another on an odd port whose
        # community is random (v3 discovery names it, nothing tells its version), chrony
        # serving its local clock (no mode 6: no version), and dnsmasq's 53/udp
        ServiceSpec("snmp", "snmpd", "127.20.0.30", 161, "snmp", "Net-SNMP",
                    tags=("public-community",), transport="udp"),
        ServiceSpec("snmp-private", "snmpd-private", "127.20.0.31", 1161, "snmp", "Net-SNMP",
                    version_visible=False, transport="udp"),
        ServiceSpec("ntp", "chrony", "127.20.0.32", 123, "ntp", "chrony",
                    version_visible=False, transport="udp"),
        ServiceSpec("dns-udp", "dnsmasq", "127.20.0.25", 53, "domain", "dnsmasq",
                    transport="udp"),
        # web applications and AI / ML servers (lab/apps.py)
        # on a generic http-alt port: nothing says Jupyter (its own is 8888)
        ServiceSpec("jupyter-open", "jupyter-open", "127.20.0.40", 8000, "http",
                    "Jupyter Server", tags=("no-auth",)),
        # `jupyter lab --ServerApp.token=''` (jupyterlab from PyPI) on a port nothing hints
        ServiceSpec("jupyterlab-open", "jupyterlab-open", "127.20.0.48", 9999, "http",
                    "Jupyter Server", tags=("no-auth",)),
        ServiceSpec("web-exposed", "web-exposed", "127.20.0.41", 80, "http", "nginx",
                    tags=("git-exposed", "env-exposed", "dir-listing")),
        ServiceSpec("influxdb", "influxdb", "127.20.0.42", 8086, "http", "InfluxDB",
                    tags=("no-auth",)),
        ServiceSpec("influxdb-auth", "influxdb-auth", "127.20.0.46", 9086, "http", "InfluxDB",
                    tags=("auth-required",)),
        ServiceSpec("tomcat", "tomcat", "127.20.0.43", 8080, "http", "Apache Tomcat"),
        # the same Tomcat's second service: a custom index page, only its error pages
        # name it
        ServiceSpec("tomcat-custom", "tomcat", "127.20.0.47", 8090, "http", "Apache Tomcat"),
        ServiceSpec("tensorboard", "tensorboard", "127.20.0.44", 7007, "http", "TensorBoard"),
        # Streamlit shows no version to a client
        ServiceSpec("streamlit", "streamlit", "127.20.0.45", 80, "http", "Streamlit",
                    version_visible=False),
        # Windows-world and telephony (lab/windows.py). Samba shows no version over SMB2;
        # the strict one refuses anonymous sessions (encryption required), on an odd port.
        ServiceSpec("smb", "smbd", "127.20.0.50", 445, "microsoft-ds", "Samba",
                    version_visible=False, tags=("null-session",)),
        ServiceSpec("smb-strict", "smbd-strict", "127.20.0.51", 4450, "microsoft-ds", "Samba",
                    version_visible=False, tags=("signing-required",)),
        # SMB1 still allowed, behind the NetBIOS session service
        ServiceSpec("smb-legacy", "smbd-legacy", "127.20.0.54", 139, "netbios-ssn", "Samba",
                    version_visible=False, tags=("smb1", "null-session")),
        ServiceSpec("rdp", "xrdp", "127.20.0.52", 3389, "ms-wbt-server", "xrdp",
                    version_visible=False, tags=("standard-rdp",)),
        ServiceSpec("sip", "kamailio", "127.20.0.53", 5060, "sip", "Kamailio"),
        ServiceSpec("sip-udp", "kamailio", "127.20.0.53", 5060, "sip", "Kamailio",
                    transport="udp"),
        # TLS done badly (TLS 1.0-1.2, NULL/anon suites, expired 1024-bit cert for another
        # name, private CA) and well (TLS 1.3 only, HTTP/2): lab/tls_sites.py
        ServiceSpec("nginx-tls-legacy", "nginx-tls", "127.20.0.60", 443, "http", "nginx",
                    tls=True, tags=("weak-tls",)),
        ServiceSpec("nginx-tls-modern", "nginx-tls", "127.20.0.61", 8443, "http", "nginx",
                    tls=True, tags=("http2",)),
        # messaging and coordination without authentication (lab/brokers.py): NATS on a
        # port that is not its own, ZooKeeper on its own
        ServiceSpec("nats", "nats", "127.20.0.70", 14222, "nats", "NATS Server",
                    tags=("no-auth",)),
        ServiceSpec("zookeeper", "zookeeper", "127.20.0.71", 2181, "zookeeper",
                    "Apache ZooKeeper", tags=("no-auth",)),
        # camera-like RTSP streams (lab/media.py): one open at its root, one behind Basic
        # authentication on an odd port; the Server header names no release
        ServiceSpec("rtsp", "rtsp", "127.20.0.75", 554, "rtsp", "GStreamer RTSP Server",
                    version_visible=False, tags=("no-auth",)),
        ServiceSpec("rtsp-auth", "rtsp", "127.20.0.76", 10554, "rtsp", "GStreamer RTSP Server",
                    version_visible=False, tags=("auth-required",)),
        # industrial protocols: PyPI servers answering read-only identification requests
        ServiceSpec("modbus", "modbus", "127.20.0.55", 502, "modbus", "pymodbus"),
        ServiceSpec("modbus-odd", "modbus", "127.20.0.56", 5020, "modbus", "pymodbus"),
        ServiceSpec("bacnet", "bacnet", "127.20.0.57", 47808, "bacnet", "BACpypes",
                    transport="udp"),
        # python-snap7 emulates a CPU 315-2 PN/DP; its own version is never sent
        ServiceSpec("s7", "s7", "127.20.0.58", 102, "iso-tsap", "Snap7", version_visible=False),
        ServiceSpec("s7-odd", "s7-odd", "127.20.0.59", 1102, "iso-tsap", "Snap7",
                    version_visible=False),
        # file and desktop sharing (lab/sharing.py): an rsync daemon on an odd port with a
        # module anyone may read (its greeting tells the protocol, not the release); Xvfb
        # open to anyone on X's own port, and refusing clients without a cookie elsewhere
        ServiceSpec("rsync", "rsync", "127.20.0.80", 10873, "rsync", "rsync",
                    version_visible=False, tags=("anonymous-modules",)),
        ServiceSpec("x11-open", "x11-open", "127.20.0.82", 6000, "X11", "X.Org X Server",
                    tags=("no-auth",)),
        ServiceSpec("x11-auth", "x11-auth", "127.20.0.83", 16001, "X11", "X.Org X Server",
                    version_visible=False, tags=("auth-required",)),
        # data platforms (lab/platforms.py): Debian's ClickHouse with Debian's own config
        # (user default, no password, allowed from anywhere) on ports that are not its own,
        # HTTP and the native protocol; and one whose default user has a password, on its
        # usual ports (the native port answers an HTTP request with a sentence naming it)
        ServiceSpec("clickhouse-http", "clickhouse", "127.20.0.90", 18123, "http",
                    "ClickHouse", tags=("no-auth",)),
        ServiceSpec("clickhouse-native", "clickhouse", "127.20.0.90", 19000, "clickhouse",
                    "ClickHouse", version_visible=False, tags=("no-auth",)),
        ServiceSpec("clickhouse-auth-http", "clickhouse-auth", "127.20.0.91", 8123, "http",
                    "ClickHouse", version_visible=False, tags=("auth-required",)),
        ServiceSpec("clickhouse-auth-native", "clickhouse-auth", "127.20.0.91", 9000,
                    "clickhouse", "ClickHouse", version_visible=False,
                    tags=("auth-required",)),
        # Podman's Docker-compatible API without authentication (rootful: anyone who
        # connects runs containers as root), on a port that is not Docker's 2375
        ServiceSpec("podman-api", "podman-api", "127.20.0.92", 12375, "http", "Podman",
                    tags=("no-auth",)),
        # data pipelines from PyPI, each in its own environment (lab/pipelines.py): Spark's
        # standalone master as started by hand — its RPC port (an RpcRequest it cannot
        # read fails with Spark's stack), its web UI on an odd port, its REST server,
        # none asking who connects; Airflow's API server as installed (UI and API want a
        # login) and in the all-admins mode quick starts use, on an odd port
        ServiceSpec("spark-rpc", "spark", "127.20.0.93", 7077, "spark", "Apache Spark",
                    version_visible=False, tags=("no-auth",)),
        ServiceSpec("spark-ui", "spark", "127.20.0.93", 18080, "http", "Apache Spark",
                    tags=("no-auth",)),
        ServiceSpec("spark-rest", "spark", "127.20.0.93", 6066, "http", "Apache Spark",
                    tags=("no-auth",)),
        ServiceSpec("airflow", "airflow", "127.20.0.94", 8080, "http", "Apache Airflow",
                    tags=("auth-required",)),
        ServiceSpec("airflow-open", "airflow-open", "127.20.0.95", 9988, "http",
                    "Apache Airflow", tags=("no-auth",)),
    )),
)


def catalogue(net: str = LAB_NET) -> tuple[ServiceSpec, ...]:
    """The catalogue moved to another /24 of 127.0.0.0/8 (same last octets), so a second
    lab can run beside the default one, e.g. for tests while the demo lab is up."""
    network = ipaddress.ip_network(net)
    loopback = ipaddress.ip_network("127.0.0.0/8")
    if network.prefixlen != 24 or not network.subnet_of(loopback):  # type: ignore[arg-type]
        raise LabError(f"lab net must be a /24 inside 127.0.0.0/8, not {net}")
    base = int(network.network_address)
    return tuple(
        replace(s, ip=str(ipaddress.ip_address(base + int(s.ip.rsplit(".", 1)[1]))))
        for s in CATALOGUE
    )


def _check_catalogue() -> None:
    """Fail at import if someone adds an endpoint the lab must never use."""
    seen: set[tuple[str, int, str]] = set()
    for spec in CATALOGUE:
        assert spec.ip.startswith("127.20.0."), spec
        assert spec.port != FORBIDDEN_PORT, spec
        assert (spec.ip, spec.port, spec.transport) not in seen, spec
        seen.add((spec.ip, spec.port, spec.transport))


_check_catalogue()
