"""A store of each backend holding a dozen observations written through the store's own
writer, labelled A..O, plus one older observation (history, never found)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from netatlas.model import Finding, Observation
from netatlas.store import Store, open_store

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _obs(ip: str, port: int, service: str | None = None, product: str | None = None,
         version: str | None = None, *, transport: str = "tcp", when: datetime = T,
         data: bytes = b"", **kw: Any) -> Observation:
    return Observation(ip=ip, port=port, transport=transport, timestamp=when,  # type: ignore[arg-type]
                       scan_id=kw.pop("scan_id", "s1"), service=service, product=product,
                       version=version, data=data, **kw)


# label -> (observation, extra top-level record keys, as enrich would add them)
DATASET: dict[str, tuple[Observation, dict[str, Any]]] = {
    "A": (_obs("127.20.0.1", 80, "http", "nginx", "1.22.1",
               data=b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n",
               cpe=["cpe:/a:nginx:nginx:1.22.1"], tags=["web"], hostnames=["www.lab.internal"],
               sections={"http": {"status": 200, "title": "Welcome to nginx!",
                                  "server": "nginx/1.22.1", "html_hash": 12345,
                                  "favicon": {"hash": -1234}},
                         "location": {"country_code": "DE", "city": "Berlin"}}),
          {"org": "Lab GmbH", "asn": "AS64500", "isp": "Lab ISP"}),
    "B": (_obs("127.20.0.1", 22, "ssh", "OpenSSH", "8.9p1", os="Linux",
               devicetype="general purpose",
               data=b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3",
               cpe=["cpe:/a:openbsd:openssh:8.9p1"],
               sections={"ssh": {"type": "ssh-ed25519", "fingerprint": "aa:bb:cc",
                                 "hassh": "hassh-b"},
                         "location": {"country_code": "DE"}}),
          {"asn": 64500}),
    "C": (_obs("127.20.0.2", 22, "ssh", "OpenSSH", "7.4", when=datetime(2026, 1, 15, 8, tzinfo=UTC),
               data=b"SSH-2.0-OpenSSH_7.4", cpe=["cpe:/a:openbsd:openssh:7.4"],
               risks=[Finding("weak-ssh", "medium", "weak key exchange")],
               vulns={"CVE-2018-15473": {"cvss": 5.3}},
               sections={"ssh": {"type": "ssh-rsa", "hassh": "hassh-c"},
                         "location": {"country_code": "US"}}),
          {"asn": "AS64501", "org": "Other Org", "source": "nmap", "worker": "w2@scanner",
           "vantage": "127.21.0.3"}),
    "D": (_obs("127.20.0.3", 443, "http", "Apache httpd", "2.4.41",
               data=b"HTTP/1.1 403 Forbidden\r\n", tags=["self-signed", "web"],
               hostnames=["lab.internal", "www.lab.internal"],
               risks=[Finding("expired-cert", "low", "expired"),
                      Finding("tls-old", "high", "TLS 1.0 offered")],
               vulns={"CVE-2021-41773": {}, "CVE-2021-42013": {}},
               sections={
                   "http": {"status": 403, "title": "Forbidden",
                            "server": "Apache/2.4.41 (Ubuntu)"},
                   "ssl": {"version": "TLSv1.2", "alpn": "http/1.1",
                           "versions": ["-SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "-TLSv1.3"],
                           "verified": False, "jarm": "2ad2ad0002ad2ad" + "0" * 47,
                           "cipher": {"name": "ECDHE-RSA-AES128-GCM-SHA256"},
                           "cert": {"subject": {"CN": "lab.internal"},
                                    "issuer": {"CN": "Lab CA"}, "expired": True,
                                    "fingerprint": {"sha256": "ab" * 32}}},
                   "location": {"country_code": "US"}}),
          {}),
    "E": (_obs("127.20.0.4", 6379, "redis", "Redis key-value store", "7.0.11",
               data=b"$1234\r\nredis_version:7.0.11\r\n", tags=["database"],
               risks=[Finding("redis-noauth", "critical", "no authentication")]),
          {}),
    "F": (_obs("127.20.0.5", 8080, "http", "Jetty", "9.4.43.v20210629",
               data=b"HTTP/1.1 404 Not Found\r\nServer: Jetty(9.4.43.v20210629)\r\n",
               sections={"http": {"status": 404, "title": "Not here"}}),
          {}),
    "G": (_obs("127.20.0.6", 8081, "http", sections={"http": {"status": 200,
                                                               "title": "100%_done"},
                                                      "x11": {"status": "success",
                                                              "vendor": "The X.Org Foundation"}}),
          {}),
    "H": (_obs("127.20.0.7", 8082, "http", sections={"http": {"status": 200,
                                                               "title": "100xxdone"}}),
          {}),
    "I": (_obs("127.20.0.8", 21, "ftp", "vsftpd", "3.0.3", info="banner ok",
               data=b"220 (vsFTPd 3.0.3)\r\n"),
          {}),
    "J": (_obs("127.20.0.9", 53, "dns", "dnsmasq", "2.80", transport="udp",
               when=datetime(2026, 2, 1, tzinfo=UTC), scan_id="s2"),
          {}),
    "K": (_obs("127.20.0.10", 25, status="io-timeout"), {}),
    "N": (_obs("127.20.0.11", 161, "snmp", "Net-SNMP", "5.9.3", transport="udp",
               sections={"snmp": {"sys_descr": "Linux lab 6.1.0 x86_64"}}),
          {}),
    "O": (_obs("127.20.0.12", 445, "microsoft-ds", "Samba",
               sections={"smb": {"dialect": "3.1.1", "signing_required": False},
                         # a file server's other sharing, as if on the same record
                         "rsync": {"modules": [{"name": "pub"}, {"name": "backup"}]},
                         "portmap": {"program_names": ["mountd", "nfs", "portmapper"],
                                     "exports": [{"dir": "/srv/nfs", "groups": ["*"]}]}}),
          {}),
    "L": (_obs("::1", 8443, "http", "Caddy", "2.7.0rc1",
               sections={"http": {"status": 200, "title": "Caddy works",
                                  "version": "HTTP/2"},
                         "ssl": {"version": "TLSv1.3", "alpn": "h2", "verified": True,
                                 "versions": ["-TLSv1", "-TLSv1.1", "TLSv1.2", "TLSv1.3"],
                                 "cert": {"subject": {"CN": "localhost"}, "expired": False}}}),
          {}),
    "M": (_obs("127.20.1.5", 80, "http", "Nginx", "1.18.0",
               sections={"http": {"status": 200,
                                  "title": "'; DROP TABLE observations; --"}}),
          {}),
}
# An older observation of A's endpoint: history, not in `latest`, so never found.
HISTORY = _obs("127.20.0.1", 80, "http", "lighttpd", "1.4", when=datetime(2026, 2, 20, tzinfo=UTC),
               data=b"Server: lighttpd", sections={"http": {"status": 200, "title": "Old page"}})
ALL = frozenset(DATASET)


def _with_extra(obs: Observation, extra: dict[str, Any]) -> Observation:
    for key, value in extra.items():
        setattr(obs, key, value)
    return obs


@pytest.fixture(scope="session")
def query_store(session_store_url: str) -> Iterator[Store]:
    """The data set written through the store's own writer, on each backend."""
    store = open_store(session_store_url)
    store.add(HISTORY)
    for obs, extra in DATASET.values():
        store.add(_with_extra(obs, extra))
    store.flush()
    yield store
    store.close()


def _label(ip: str, port: int) -> str:
    for label, (obs, _) in DATASET.items():
        if (obs.ip, obs.port) == (ip, port):
            return label
    raise AssertionError(f"row {ip}:{port} is not in the dataset")


@pytest.fixture(scope="session")
def search(query_store: Store) -> Callable[[str], set[str]]:
    """Labels of the latest observations a query matches."""

    def run(query: str) -> set[str]:
        records = query_store.search(query, limit=1000)
        assert query_store.count(query) == len(records)
        return {_label(r["ip_str"], r["port"]) for r in records}

    return run


@pytest.fixture(scope="session")
def facets(query_store: Store) -> Callable[[str, str], dict[Any, int]]:
    """``{value: count}`` for one facet."""

    def run(query: str, name: str) -> dict[Any, int]:
        return {f.value: f.count for f in query_store.facets(query, [name], size=100)[name]}

    return run
