"""Synthetic observations for the store benchmarks (nothing is scanned).

    from _synthetic import History, synthetic

    for obs in History(1_000_000, seed=1):   # 1M observations, rescans included
        store.add(obs)

``synthetic(i, rng, scan_id)`` is one observation of a plain mix of ports, products and
titles (``bench/api_search.py``). ``History(n, seed)`` is what a store holds after weeks
of rescans: every endpoint observed 2-5 times in scan rounds a week apart (some rescans
find a new version or another product), HTTP heads with a Date header (so banners differ
as real ones do), TLS on https with certificates shared by many hosts (one per 50 hosts),
risk findings and CVEs where the product or configuration calls for them, tags, CPEs,
host names, and a location and ASN on most hosts.

Every address lies in 127.64.0.0/10 (loopback) and every name under ``.test``: nothing in
a store filled from here could ever point a later scan off the machine. The output is a
pure function of ``(n, seed)``; endpoint, host and observation facts come from a
splitmix64 hash of their number, so any rescan of any endpoint is rebuilt without
keeping state, and generating costs a few microseconds an observation.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from netatlas.model import Finding, Observation, Scan

BASE_IP = int(ipaddress.ip_address("127.64.0.0"))
NET = ipaddress.ip_network("127.64.0.0/10")
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# (port, service, [(product, versions, weight)], title choices) — a rough internet mix
SERVICES = [
    (80, "http", [("nginx", ["1.18.0", "1.22.1", "1.24.0", "1.26.0"], 5),
                  ("Apache httpd", ["2.4.41", "2.4.57", "2.4.62"], 4),
                  ("Microsoft IIS httpd", ["10.0"], 1), ("lighttpd", ["1.4.69"], 1)],
     ["Welcome to nginx!", "Apache2 Debian Default Page", "Index of /", "Login",
      "Dashboard", "Router Configuration", "403 Forbidden", "It works!"]),
    (443, "https", [("nginx", ["1.22.1", "1.24.0"], 5), ("Apache httpd", ["2.4.62"], 3),
                    ("Caddy", ["2.7.6"], 1)],
     ["Sign in", "Grafana", "GitLab", "Welcome", "Jenkins [Jenkins]", "Kibana"]),
    (22, "ssh", [("OpenSSH", ["7.4", "8.2p1", "8.9p1", "9.2p1", "9.6p1"], 8),
                 ("Dropbear sshd", ["2020.81", "2022.83"], 2)], []),
    (21, "ftp", [("vsftpd", ["3.0.3", "3.0.5"], 3), ("ProFTPD", ["1.3.6", "1.3.8"], 2),
                 ("Pure-FTPd", [""], 1)], []),
    (25, "smtp", [("Postfix smtpd", [""], 4), ("Exim smtpd", ["4.96", "4.97"], 2)], []),
    (3306, "mysql", [("MySQL", ["5.7.44", "8.0.36"], 3), ("MariaDB", ["10.11.6"], 2)], []),
    (5432, "postgresql", [("PostgreSQL", ["13.14", "15.6", "16.2"], 1)], []),
    (6379, "redis", [("Redis", ["6.2.14", "7.0.15", "7.2.4"], 1)], []),
    (8080, "http", [("Jetty", ["9.4.53"], 2), ("Apache Tomcat", ["9.0.85", "10.1.19"], 3),
                    ("nginx", ["1.24.0"], 2)],
     ["Apache Tomcat", "Jenkins", "Swagger UI", "Prometheus Time Series", "Welcome"]),
    (11211, "memcached", [("Memcached", ["1.6.21"], 1)], []),
    (27017, "mongodb", [("MongoDB", ["4.4.28", "6.0.13"], 1)], []),
]
WEIGHTS = [30, 22, 25, 6, 5, 4, 2, 3, 6, 1, 1]
TAGS = ["cloud", "self-signed", "database", "eol-product", "honeypot", "vpn"]


def synthetic(i: int, rng: random.Random, scan_id: str) -> Observation:
    """Observation ``i`` of a plain mix (one per endpoint, no history, no TLS)."""
    host = i // 3  # ~3 services a host
    ip = str(ipaddress.ip_address(BASE_IP + host * 7 % (1 << 22)))
    port, service, products, titles = rng.choices(SERVICES, WEIGHTS)[0]
    if rng.random() < 0.08:  # some services on odd ports
        port = rng.choice([81, 2222, 8000, 8081, 8443, 8888, 9000, 10000])
    product, versions, _ = rng.choices(products, [p[2] for p in products])[0]
    version = rng.choice(versions) or None
    sections: dict = {}
    if service in ("http", "https"):
        title = rng.choice(titles)
        sections["http"] = {"status": rng.choice([200, 200, 200, 301, 403, 404]),
                            "title": title, "server": f"{product}/{version or ''}".rstrip("/")}
        data = (f"HTTP/1.1 200 OK\r\nServer: {product}/{version}\r\n"
                f"Content-Type: text/html\r\n\r\n<title>{title}</title>").encode()
    elif service == "ssh":
        data = f"SSH-2.0-{product.replace(' ', '_')}_{version}\r\n".encode()
        sections["ssh"] = {"version_string": data.decode().strip()}
    elif service == "ftp":
        data = f"220 ({product} {version or ''})\r\n".encode()
    elif service == "smtp":
        data = f"220 mail.example.test ESMTP {product}\r\n".encode()
    else:
        data = rng.randbytes(rng.randint(0, 48))
    return Observation(
        ip=ip, port=port, transport="tcp",
        timestamp=T0 + timedelta(seconds=i * 13 % (86400 * 60)),
        scan_id=scan_id, service=service, product=product, version=version,
        cpe=[f"cpe:/a:{product.lower().replace(' ', '_')}:{version or ''}"], data=data,
        tags=rng.sample(TAGS, k=rng.choice([0, 0, 0, 1, 2])), sections=sections,
    )


# -- History: what weeks of rescans leave in a store -------------------------------------

_M64 = (1 << 64) - 1
SLOTS = 3  # services a host
CERT_HOSTS = 50  # hosts sharing one certificate
ROUND_GAP = timedelta(days=7)  # rescans a week apart
ROUND_SPAN = 2 * 86400.0  # seconds one round of scanning takes
ODD_PORTS = [81, 2222, 8000, 8081, 8443, 8888, 9000, 10000]
# how often an endpoint is seen again after its first observation (1-4 times)
REPEATS = {1: 40, 2: 30, 3: 20, 4: 10}
MEAN_OBSERVATIONS = 1 + sum(k * w for k, w in REPEATS.items()) / sum(REPEATS.values())
_HOST_MULT = 0x9E3779B1 & ((1 << 22) - 1) | 1  # odd: spreads hosts over the whole /10


def _mix(x: int) -> int:
    """splitmix64: 64 well-mixed bits from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _table(weights: list[int], size: int = 1024) -> list[int]:
    """``table[bits % size]`` is an index drawn in proportion to ``weights``."""
    cum = list(accumulate(weights))
    return [bisect_right(cum, (s + 0.5) * cum[-1] / size) for s in range(size)]


_SERVICE_TABLE = _table(WEIGHTS)
_PRODUCT_TABLES = [_table([p[2] for p in products]) for _, _, products, _ in SERVICES]
_REPEAT_TABLE = [list(REPEATS)[i] for i in _table(list(REPEATS.values()))]

_VENDOR = {
    "nginx": "f5:nginx", "Apache httpd": "apache:http_server",
    "Microsoft IIS httpd": "microsoft:internet_information_services",
    "lighttpd": "lighttpd:lighttpd", "Caddy": "caddyserver:caddy", "OpenSSH": "openbsd:openssh",
    "Dropbear sshd": "dropbear_ssh_project:dropbear_ssh", "vsftpd": "beasts:vsftpd",
    "ProFTPD": "proftpd:proftpd", "Pure-FTPd": "pureftpd:pure-ftpd",
    "Postfix smtpd": "postfix:postfix", "Exim smtpd": "exim:exim", "MySQL": "oracle:mysql",
    "MariaDB": "mariadb:mariadb", "PostgreSQL": "postgresql:postgresql", "Redis": "redis:redis",
    "Jetty": "eclipse:jetty", "Apache Tomcat": "apache:tomcat",
    "Memcached": "memcached:memcached", "MongoDB": "mongodb:mongodb",
}
_SERVER_HEADER = {
    "nginx": "nginx/{v}", "Apache httpd": "Apache/{v} (Debian)",
    "Microsoft IIS httpd": "Microsoft-IIS/{v}", "lighttpd": "lighttpd/{v}", "Caddy": "Caddy",
    "Jetty": "Jetty({v})", "Apache Tomcat": "", "OpenSSH": "",
}
_EOL = {("OpenSSH", "7.4"), ("nginx", "1.18.0"), ("Apache httpd", "2.4.41"),
        ("MySQL", "5.7.44"), ("PostgreSQL", "13.14"), ("MongoDB", "4.4.28"),
        ("Redis", "6.2.14")}
# CVEs as the offline feed would attach them (assess/cve.py: inferred from the version)
_CVES: dict[tuple[str, str], list[tuple[str, float, str]]] = {
    ("OpenSSH", "7.4"): [("CVE-2018-15473", 5.3, "Username enumeration"),
                         ("CVE-2023-38408", 9.8, "ssh-agent PKCS#11 remote code execution")],
    ("OpenSSH", "8.2p1"): [("CVE-2020-15778", 7.8, "scp command injection"),
                           ("CVE-2023-38408", 9.8, "ssh-agent PKCS#11 remote code execution")],
    ("OpenSSH", "8.9p1"): [("CVE-2023-38408", 9.8, "ssh-agent PKCS#11 remote code execution"),
                           ("CVE-2024-6387", 8.1, "regreSSHion: signal handler race")],
    ("OpenSSH", "9.2p1"): [("CVE-2024-6387", 8.1, "regreSSHion: signal handler race")],
    ("Dropbear sshd", "2020.81"): [("CVE-2021-36369", 7.5, "Authentication bypass")],
    ("nginx", "1.18.0"): [("CVE-2021-23017", 7.7, "Resolver off-by-one heap write")],
    ("Apache httpd", "2.4.41"): [("CVE-2021-44790", 9.8, "mod_lua buffer overflow"),
                                 ("CVE-2022-22720", 9.8, "HTTP request smuggling")],
    ("Apache httpd", "2.4.57"): [("CVE-2024-38476", 9.8, "Backend response header SSRF")],
    ("vsftpd", "3.0.3"): [("CVE-2021-30047", 7.5, "Denial of service")],
    ("ProFTPD", "1.3.6"): [("CVE-2019-12815", 9.8, "mod_copy arbitrary file copy")],
    ("Exim smtpd", "4.96"): [("CVE-2023-42115", 9.8, "AUTH out-of-bounds write")],
    ("Redis", "7.0.15"): [("CVE-2024-31449", 7.0, "Lua bit library stack overflow")],
    ("Apache Tomcat", "9.0.85"): [("CVE-2024-50379", 9.8, "JSP compilation TOCTOU race")],
    ("Jetty", "9.4.53"): [("CVE-2023-44487", 7.5, "HTTP/2 rapid reset")],
    ("MongoDB", "4.4.28"): [("CVE-2024-1351", 8.8, "TLS certificate validation bypass")],
    ("PostgreSQL", "13.14"): [("CVE-2024-10979", 8.8, "PL/Perl environment variable change")],
}
_SEVERITY = ((9.0, "critical"), (7.0, "high"), (4.0, "medium"), (0.0, "low"))
_REASON = {200: "OK", 301: "Moved Permanently", 403: "Forbidden", 404: "Not Found"}
_STATUSES = [200, 200, 200, 200, 200, 301, 403, 404]
_LOCATIONS = [
    ("DE", "Germany", "Frankfurt am Main", "HE", 50.11, 8.68),
    ("US", "United States", "Ashburn", "VA", 39.04, -77.49),
    ("US", "United States", "San Jose", "CA", 37.34, -121.89),
    ("NL", "Netherlands", "Amsterdam", "NH", 52.37, 4.90),
    ("FR", "France", "Paris", "IDF", 48.86, 2.35),
    ("GB", "United Kingdom", "London", "ENG", 51.51, -0.13),
    ("JP", "Japan", "Tokyo", "13", 35.69, 139.69),
    ("SG", "Singapore", "Singapore", "01", 1.29, 103.85),
    ("BR", "Brazil", "Sao Paulo", "SP", -23.55, -46.63),
    ("IN", "India", "Mumbai", "MH", 19.08, 72.88),
    ("CH", "Switzerland", "Zurich", "ZH", 47.37, 8.54),
    ("AU", "Australia", "Sydney", "NSW", -33.87, 151.21),
]
_LOCATION_DICTS = [
    {"country_code": c, "country_name": n, "city": city, "region_code": r,
     "latitude": lat, "longitude": lon} for c, n, city, r, lat, lon in _LOCATIONS]
# private-use AS numbers and made-up operators: nothing names a real network
_ASNS = [(f"AS{64512 + i}", f"Example Hosting {i}", i % 3 == 0) for i in range(40)]
_ISSUERS = [
    ({"C": "US", "O": "Let's Encrypt", "CN": "R10"}, "sha256WithRSAEncryption", 90, 30),
    ({"C": "US", "O": "Let's Encrypt", "CN": "R11"}, "sha256WithRSAEncryption", 90, 20),
    ({"C": "US", "O": "Let's Encrypt", "CN": "E5"}, "ecdsa-with-SHA384", 90, 10),
    ({"C": "US", "O": "DigiCert Inc", "CN": "DigiCert Global G2 TLS RSA SHA256 2020 CA1"},
     "sha256WithRSAEncryption", 397, 10),
    ({"C": "GB", "O": "Sectigo Limited", "CN": "Sectigo RSA Domain Validation Secure Server CA"},
     "sha256WithRSAEncryption", 365, 10),
    (None, "sha256WithRSAEncryption", 3650, 20),  # self-signed
]
_ISSUER_TABLE = _table([w for *_, w in _ISSUERS])
_CIPHERS = [
    ("TLSv1.3", {"name": "TLS_AES_256_GCM_SHA384", "bits": 256, "version": "TLSv1.3"},
     ["-TLSv1", "-TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    ("TLSv1.3", {"name": "TLS_AES_128_GCM_SHA256", "bits": 128, "version": "TLSv1.3"},
     ["-TLSv1", "-TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    ("TLSv1.2", {"name": "ECDHE-RSA-AES256-GCM-SHA384", "bits": 256, "version": "TLSv1.2"},
     ["TLSv1", "TLSv1.1", "TLSv1.2", "-TLSv1.3"]),
]


def ip_of_host(h: int) -> str:
    """Host number ``h`` -> its address, spread over 127.64.0.0/10 (2^22 addresses)."""
    x = h * _HOST_MULT & ((1 << 22) - 1)
    return f"127.{64 + (x >> 16)}.{(x >> 8) & 255}.{x & 255}"


def _cpe(product: str, version: str) -> list[str]:
    return [f"cpe:/a:{_VENDOR[product]}:{version}" if version else f"cpe:/a:{_VENDOR[product]}"]


def _vulns(product: str, version: str) -> dict[str, dict[str, Any]]:
    out = {}
    for cve, cvss, summary in _CVES.get((product, version), []):
        severity = next(s for floor, s in _SEVERITY if cvss >= floor)
        out[cve] = {"cvss": cvss, "severity": severity, "summary": summary, "verified": False}
    return out


# per (product, version): shared, never mutated (Observation.to_record copies the lists)
_CPES = {(p, v): _cpe(p, v) for _, _, products, _ in SERVICES for p, vs, _ in products
         for v in vs}
_VULNS = {key: _vulns(*key) for key in _CPES}
_SERVERS = {(p, v): _SERVER_HEADER.get(p, "{v}").format(v=v) for p, v in _CPES}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=64)
def _http_day(day: int) -> str:
    return f"{_EPOCH + timedelta(days=day):%a, %d %b %Y}"


def _http_date(ts: datetime) -> str:
    """RFC 9110 date (``Thu, 01 Jan 2026 00:00:00 GMT``), cheaper than strftime."""
    s = int(ts.timestamp())
    day, s = divmod(s, 86400)
    return f"{_http_day(day)} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} GMT"


def _finding(check: str, severity: str, title: str, evidence: str = "") -> Finding:
    return Finding(check, severity, title, evidence)  # type: ignore[arg-type]


_F_REDIS = _finding("redis-no-auth", "high", "Redis answers without authentication")
_F_MEMCACHED = _finding("memcached-open", "medium", "Memcached open to the network")
_F_MONGO = _finding("mongodb-exposed", "medium",
                    "MongoDB wire protocol reachable from the network")
_F_FTP_ANON = _finding("ftp-anonymous", "medium", "FTP allows anonymous login",
                       "230 Login successful.")
_F_CLEARTEXT = _finding("cleartext-login", "low", "Login offered over cleartext")
_F_LISTING = _finding("http-dir-listing", "low", "HTTP directory listing", "Index of /")
_F_DEFAULT = _finding("default-page", "info",
                      "Web server default page (installed, never set up)")
_F_SELF_SIGNED = _finding("tls-self-signed", "low", "Self-signed TLS certificate")
_F_EXPIRED = _finding("tls-expired", "medium", "Expired TLS certificate")


@lru_cache(maxsize=4096)
def _ssl_section(seed: int, cert: int) -> dict[str, Any]:
    """The TLS facts of certificate ``cert`` (shared by up to CERT_HOSTS hosts)."""
    bits = _mix(seed ^ (cert * 0x2545F4914F6CDD1D))
    issuer, sig_alg, days, _ = _ISSUERS[_ISSUER_TABLE[bits & 1023]]
    name = f"svc{cert}.example{(bits >> 10) & 255}.test"
    subject = {"CN": f"*.{name}"} if bits >> 18 & 1 else {"CN": name}
    if issuer is None:
        subject = {"C": "XX", "O": f"Appliance {cert}", "CN": name}
        issuer = subject
    # certificates are renewed near the end of their life; a few are left to lapse
    issued = T0 - timedelta(days=((bits >> 20) & 1023) / 1023 * days * 1.15)
    expires = issued + timedelta(days=days)
    version, cipher, versions = _CIPHERS[(bits >> 30) % len(_CIPHERS)]
    der_id = f"{seed}:{cert}".encode()
    self_signed = issuer is subject
    return {
        "version": version, "cipher": cipher, "alpn": "h2" if bits >> 32 & 1 else "http/1.1",
        "versions": versions,
        "cert": {
            "subject": subject, "issuer": issuer, "serial": f"{bits:x}", "sig_alg": sig_alg,
            "issued": issued.isoformat(), "expires": expires.isoformat(),
            "expired": expires < T0 + 2 * ROUND_GAP, "self_signed": self_signed,
            "san": [name, f"www.{name}", f"api.{name}"][: 1 + (bits >> 33) % 3],
            "fingerprint": {"sha1": hashlib.sha1(der_id).hexdigest(),
                            "sha256": hashlib.sha256(der_id).hexdigest()},
            "pubkey": ({"type": "ec", "bits": 256, "curve": "secp256r1"}
                       if sig_alg.startswith("ecdsa") else {"type": "rsa", "bits": 2048}),
            "version": "v3",
        },
        "chain_length": 1 if self_signed else 2,
        "verified": not self_signed and expires >= T0 + 2 * ROUND_GAP,
        "verify_error": "self-signed certificate" if self_signed else None,
    }


class History:
    """``n`` observations: every endpoint seen in round 0, then again in 1-4 weekly
    rescan rounds (a round visits endpoints in a scan's shuffled order, timestamps rising
    through it). Iterate it for the observations; ``scans()`` are the rounds."""

    def __init__(self, n: int, seed: int = 1, scan_prefix: str = "bench") -> None:
        self.n = n
        self.seed = seed
        self.scan_prefix = scan_prefix
        # a little more than enough endpoints; the stream stops at exactly n
        self.endpoints = max(1, math.ceil(n / MEAN_OBSERVATIONS * 1.01) + 16)
        self.hosts = math.ceil(self.endpoints / SLOTS)
        self.certs = math.ceil(self.hosts / CERT_HOSTS)
        base = _mix(seed)
        self._hsalt, self._esalt, self._osalt = _mix(base + 1), _mix(base + 2), _mix(base + 3)
        self._csalt = _mix(base + 4)

    def scan_id(self, k: int) -> str:
        return f"{self.scan_prefix}-r{k}"

    def scans(self) -> list[Scan]:
        rounds = 1 + max(REPEATS)
        return [Scan(id=self.scan_id(k), started=T0 + k * ROUND_GAP,
                     args={"targets": [str(NET)]}, status="finished",
                     finished=T0 + k * ROUND_GAP + timedelta(seconds=ROUND_SPAN))
                for k in range(rounds)]

    def sample_host(self) -> str:
        """An address that has observations (with history)."""
        return ip_of_host(min(1, self.hosts - 1))

    def __iter__(self) -> Iterator[Observation]:
        emitted = 0
        k = 0
        e_count = self.endpoints
        while emitted < self.n:
            # a round's order: pos -> (a*pos + b) mod E, a coprime to E (a shuffled sweep)
            r = _mix(self._osalt ^ k)
            a = (r % e_count) | 1
            while math.gcd(a, e_count) != 1:
                a += 2
            b = (r >> 32) % e_count
            start = T0 + k * ROUND_GAP
            step = ROUND_SPAN / e_count
            scan_id = self.scan_id(k)
            for pos in range(e_count):
                e = (a * pos + b) % e_count
                obs = self.observation(e, k, start + timedelta(seconds=pos * step), scan_id)
                if obs is None:
                    continue
                yield obs
                emitted += 1
                if emitted >= self.n:
                    return
            k += 1

    def _port(self, hb: int, slot: int) -> tuple[int, int]:
        """(service index, port) of a host's service slot; ports unique on the host (a
        second web server goes to an odd port, as real ones do)."""
        ports: list[int] = []
        svc = port = 0
        for s in range(slot + 1):
            bits = hb >> (16 * s) & 0xFFFF
            svc = _SERVICE_TABLE[bits & 1023]
            port = ODD_PORTS[bits >> 13 & 7] if bits >> 10 & 7 == 0 else SERVICES[svc][0]
            t = 0
            while port in ports:  # another service, then an odd port, then a spare one
                t += 1
                if t <= 2:
                    svc = _SERVICE_TABLE[_mix(bits + t) & 1023]
                    port = SERVICES[svc][0]
                else:
                    port = ODD_PORTS[(bits >> 13) + t & 7] if t < 11 else 20000 + s
            ports.append(port)
        return svc, port

    def observation(self, e: int, k: int, ts: datetime,
                    scan_id: str | None = None) -> Observation | None:
        """Endpoint ``e`` as scan round ``k`` saw it (None: not rescanned that often)."""
        eb = _mix(self._esalt ^ e)
        repeats = _REPEAT_TABLE[eb & 1023]
        if k > repeats and k <= max(REPEATS):
            return None
        h, slot = divmod(e, SLOTS)
        hb = _mix(self._hsalt ^ h)
        svc, port = self._port(hb, slot)
        _, service, products, titles = SERVICES[svc]
        pidx = _PRODUCT_TABLES[svc][eb >> 10 & 1023]
        vidx = (eb >> 20 & 255) % len(products[pidx][1])
        # one change in its life, at a rescan: an upgrade or another product
        change, when = eb >> 28 & 1023, 1 + (eb >> 38 & 3)
        if k >= when:
            if change < 150:
                vidx = min(vidx + 1, len(products[pidx][1]) - 1)
            elif change < 180 and len(products) > 1:
                pidx = (pidx + 1) % len(products)
                vidx = (eb >> 20 & 255) % len(products[pidx][1])
        product, versions, _ = products[pidx]
        version = versions[vidx]
        ob = _mix(self._osalt ^ (e << 4 | k))
        hb2 = _mix(hb)
        ip = ip_of_host(h)
        sections: dict[str, dict[str, Any]] = {}
        risks: list[Finding] = []
        tags: list[str] = []
        hostname = f"h{h}.r{h % 251}.lab.test"
        if service in ("http", "https"):
            title = titles[(eb >> 40 & 255) % len(titles)]
            if ob & 15 == 0:  # pages change between scans
                title = titles[(ob >> 4 & 255) % len(titles)]
            status = _STATUSES[ob >> 12 & 7]
            server = _SERVERS[product, version]
            html_hash = (eb >> 44 & 0xFFFFF) - 0x80000 if status == 200 else 0
            sections["http"] = {"status": status, "title": title, "server": server or None,
                                "html_hash": html_hash, "host": hostname}
            extra = f"Server: {server}\r\n" if server else ""
            if ob >> 15 & 3 == 0:
                extra += f"Set-Cookie: sid={ob >> 20 & 0xFFFFFFFFFFF:011x}; Path=/; HttpOnly\r\n"
            if ob >> 17 & 1:
                extra += f'ETag: "{ob >> 24 & 0xFFFFFFFF:x}-{ob >> 8 & 0xFFF:x}"\r\n'
            data = (f"HTTP/1.1 {status} {_REASON[status]}\r\n{extra}"
                    f"Date: {_http_date(ts)}\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {ob >> 40 & 0x3FFF}\r\nConnection: keep-alive\r\n\r\n"
                    f"<!DOCTYPE html><html><head><title>{title}</title>").encode()
            if title == "Index of /":
                risks.append(_F_LISTING)
            elif title in ("Welcome to nginx!", "Apache2 Debian Default Page", "It works!"):
                risks.append(_F_DEFAULT)
            if service == "https":
                ssl = _ssl_section(self._csalt, h // CERT_HOSTS)
                sections["ssl"] = ssl
                cert = ssl["cert"]
                if cert["self_signed"]:
                    risks.append(_F_SELF_SIGNED)
                    tags.append("self-signed")
                if cert["expired"]:
                    risks.append(_F_EXPIRED)
        elif service == "ssh":
            banner = f"SSH-2.0-{product.replace(' ', '_')}_{version}"
            fp = (hb2 << 64 | _mix(hb2)).to_bytes(16, "big").hex(":")
            sections["ssh"] = {
                "version_string": banner, "type": "ssh-ed25519", "fingerprint": fp,
                "hassh": f"{_mix(vidx ^ pidx << 8):016x}{pidx:016x}"}
            data = (banner + "\r\n").encode()
        elif service == "ftp":
            data = f"220 ({product} {version})\r\n".encode()
            risks.append(_F_CLEARTEXT)
            if eb >> 50 & 3 == 0:
                risks.append(_F_FTP_ANON)
        elif service == "smtp":
            name = f"mail{h}.example.test"
            data = f"220 {name} ESMTP {product} {version}\r\n".encode()
        elif service == "mysql":
            data = (b"J\x00\x00\x00\n" + version.encode() + b"-log\x00" + ob.to_bytes(8, "little")
                    + b"\x00\xff\xf7\x08\x02\x00\xff\x81\x15" + b"\x00" * 10
                    + hb2.to_bytes(8, "little") + b"\x00mysql_native_password\x00")
        elif service == "redis":
            if eb >> 50 & 3:
                risks.append(_F_REDIS)
                data = (f"$1200\r\n# Server\r\nredis_version:{version}\r\nredis_mode:standalone"
                        f"\r\nos:Linux 6.1.0-18-amd64 x86_64\r\nprocess_id:{ob & 0xFFFF}\r\n"
                        f"uptime_in_seconds:{ob >> 16 & 0xFFFFFF}\r\n").encode()
            else:
                data = b"-NOAUTH Authentication required.\r\n"
        elif service == "memcached":
            risks.append(_F_MEMCACHED)
            data = (f"STAT pid {ob & 0xFFFF}\r\nSTAT uptime {ob >> 16 & 0xFFFFFF}\r\n"
                    f"STAT version {version}\r\nSTAT curr_connections {ob >> 40 & 255}\r\n"
                    ).encode()
        elif service == "mongodb":
            risks.append(_F_MONGO)
            data = b"\x00\x00\x00\x00" + ob.to_bytes(8, "little") + version.encode()
        else:  # postgresql: an error to the startup probe
            data = b"E\x00\x00\x00\x53SFATAL\x00C0A000\x00Munsupported frontend protocol\x00"
        if (product, version) in _EOL:
            tags.append("eol-product")
        if service in ("mysql", "postgresql", "redis", "mongodb", "memcached"):
            tags.append("database")
        extra_tag = eb >> 52 & 255
        if extra_tag < 2:
            tags.append("honeypot")
        elif extra_tag < 6:
            tags.append("vpn")
        located = hb2 >> 8 & 7 != 0  # 7 hosts in 8 have a location and an ASN
        if located:
            asn, org, cloud = _ASNS[(hb2 >> 12) % len(_ASNS)]
            if cloud:
                tags.append("cloud")
        return Observation(
            ip=ip, port=port, transport="tcp", timestamp=ts, scan_id=scan_id or self.scan_id(k),
            service=service, product=product, version=version or None,
            cpe=_CPES[product, version], data=data,
            hostnames=[hostname] if hb2 & 3 else [], tags=tags, sections=sections,
            risks=risks, vulns=_VULNS[product, version],
            location=_LOCATION_DICTS[(hb2 >> 20) % len(_LOCATIONS)] if located else None,
            asn=asn if located else None, org=org if located else None,
            isp=org if located else None,
        )
