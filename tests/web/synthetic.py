"""Synthetic observations for the web UI tests: a small world of hosts with locations,
shared certificates / favicons / SSH keys / HTML bodies, a history of changes, risks —
and one observation stuffed with HTML/JS payloads, as a hostile server would send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from netatlas.model import Finding, Observation

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=1">'
XSS = XSS_SCRIPT + XSS_IMG

PLACES = [
    ("DE", "Germany", "Frankfurt am Main", 50.11, 8.68, "AS64500", "Rhein Hosting GmbH"),
    ("US", "United States", "New York", 40.71, -74.01, "AS64501", "Hudson Cloud"),
    ("JP", "Japan", "Tokyo", 35.68, 139.69, "AS64502", "Sakura Datacenter"),
    ("BR", "Brazil", "São Paulo", -23.55, -46.63, "AS64503", "Paulista Net"),
    ("AU", "Australia", "Sydney", -33.87, 151.21, "AS64504", "Harbour Compute"),
    ("ZA", "South Africa", "Johannesburg", -26.2, 28.05, "AS64505", "Highveld ISP"),
    ("SG", "Singapore", "Singapore", 1.35, 103.82, "AS64506", "Lion City Hosting"),
    ("GB", "United Kingdom", "London", 51.51, -0.13, "AS64507", "Thames Transit"),
]
SHARED_CERT = "9f" * 32
SHARED_FAVICON = -1137154128
SHARED_SSH = "3f:a1:9c:22:0b:7e:c4:51:d8:60:af:13:94:e2:5b:07"
SHARED_HTML = 1987654321


def location(i: int) -> dict[str, Any]:
    """Where host 127.20.1.{i+1} is (the same place FakeGeoIP gives that address)."""
    cc, name, city, lat, lon, _asn, _org = PLACES[(i + 1) % len(PLACES)]
    return {"country_code": cc, "country_name": name, "city": city, "latitude": lat,
            "longitude": lon}


@dataclass
class FakeGeoIP:
    """The ``services.geoip`` interface over the same table (a lookup object, as the
    real MMDB reader is; no network involved either way)."""

    def lookup(self, ip: str) -> dict[str, Any] | None:
        octets = [int(x) for x in ip.split(".")]
        if octets[2] == 230:  # the hostile server's addresses are not in the database
            return None
        last = octets[3]
        cc, name, city, lat, lon, asn, org = PLACES[last % len(PLACES)]
        return {"location": {"country_code": cc, "country_name": name, "city": city,
                             "latitude": lat, "longitude": lon},
                "asn": asn, "org": org}


def http_obs(ip: str, port: int, when: datetime, product: str, version: str, title: str,
             *, favicon: int | None = None, html_hash: int | None = None,
             cert: str | None = None, i: int = 0, scan: str = "scan-b") -> Observation:
    headers = {"Server": f"{product}/{version}", "Content-Type": "text/html",
               "Date": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    data = (f"HTTP/1.1 200 OK\r\nServer: {product}/{version}\r\nContent-Type: text/html\r\n"
            f"Date: {headers['Date']}\r\n\r\n").encode()
    http: dict[str, Any] = {"status": 200, "title": title, "server": headers["Server"],
                            "headers": headers, "html_hash": html_hash or (1000 + i),
                            "favicon": {"hash": favicon} if favicon else {}}
    sections: dict[str, Any] = {"http": http}
    if i % 3 != 2:  # the rest are located only through services.geoip
        sections["location"] = location(i)
    if cert:
        sections["ssl"] = {
            "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
            "cert": {"subject": {"CN": "shared.example.test"}, "issuer": {"CN": "Lab CA"},
                     "san": ["shared.example.test"], "expired": False, "self_signed": True,
                     "fingerprint": {"sha256": cert, "sha1": cert[:40]}},
        }
    return Observation(
        ip=ip, port=port, transport="tcp", timestamp=when, scan_id=scan, service="http",
        product=product, version=version, cpe=[f"cpe:/a:{product.lower()}:{product.lower()}"],
        data=data, tags=["https"] if cert else [], sections=sections,
        risks=[Finding("self-signed-cert", "low", "Self-signed certificate")] if cert else [],
    )


def observations() -> list[Observation]:
    out: list[Observation] = []
    for i in range(24):
        ip = f"127.20.1.{i + 1}"
        when = T0 + timedelta(hours=i * 3)
        product, version = ("nginx", "1.22.1") if i % 2 else ("Apache httpd", "2.4.57")
        out.append(http_obs(
            ip, 80 if i % 4 else 8080, when, product, version, f"Welcome page {i}",
            favicon=SHARED_FAVICON if i < 3 else None,
            html_hash=SHARED_HTML if 5 <= i < 8 else None,
            cert=SHARED_CERT if 10 <= i < 14 else None, i=i,
        ))
        if i % 3 == 0:
            key = SHARED_SSH if i in (0, 3) else f"5e:{i:02x}" + ":00" * 14
            out.append(Observation(
                ip=ip, port=22, transport="tcp", timestamp=when, scan_id="scan-b",
                service="ssh", product="OpenSSH", version="9.2p1",
                data=b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
                sections={"ssh": {"version_string": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
                                  "fingerprint": key, "type": "ssh-ed25519",
                                  "fingerprint_sha256": f"SHA256:{key.replace(':', '')}"},
                          "location": location(i)},
            ))
        if i % 5 == 0:
            out.append(Observation(
                ip=ip, port=6379, transport="tcp", timestamp=when, scan_id="scan-b",
                service="redis", product="Redis key-value store", version="7.0.15",
                data=b"$3412\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n",
                tags=["database"], sections={"location": location(i)},
                risks=[Finding("redis-no-auth", "high", "Redis without authentication",
                               "INFO answered without AUTH")],
            ))
    # history: one host whose web server was upgraded and retitled between two scans
    old = http_obs("127.20.1.2", 80, T0 - timedelta(days=3), "nginx", "1.18.0",
                   "Old welcome page", i=1, scan="scan-a")
    out.append(old)
    return out


def hostile_observation(ip: str = "127.20.230.1", port: int = 8080) -> Observation:
    """What a hostile server's grab looks like when stored (used when the live grab
    pipeline is not available): payloads in every field a page shows."""
    data = (f"HTTP/1.1 200 OK\r\nServer: {XSS}\r\nX-Evil: {XSS_IMG}\r\n\r\n"
            f"<html><head><title>{XSS}</title></head><body>{XSS}</body></html>").encode()
    return Observation(
        ip=ip, port=port, transport="tcp", timestamp=T0 + timedelta(days=4),
        scan_id="scan-hostile", service="http", product=f"Evil{XSS_IMG}", version=XSS_SCRIPT,
        data=data, tags=[f"tag{XSS_IMG}"], hostnames=[f"x{XSS_SCRIPT}.test"],
        sections={
            "http": {"status": 200, "title": XSS, "server": XSS,
                     "headers": {"Server": XSS, "X-Evil": XSS_IMG}, "html_hash": SHARED_HTML},
            "location": {"country_code": "FR", "country_name": f"France{XSS_IMG}",
                         "city": f"Paris{XSS_SCRIPT}", "latitude": 48.85, "longitude": 2.35},
        },
        risks=[Finding(f"evil{XSS_IMG}", "high", f"Risk {XSS}", XSS)],
        vulns={f"CVE-2026-0001{XSS_IMG}": {"cvss": 9.8}},
    )
