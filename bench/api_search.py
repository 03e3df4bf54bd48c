"""Search and facet latency through the REST API over a store of N synthetic
observations (default 100k and 1M), printed as p50 / p95.

    .venv/bin/python bench/api_search.py                 # 100k and 1M
    .venv/bin/python bench/api_search.py --sizes 100000 --repeat 30
    .venv/bin/python bench/api_search.py --db /tmp/big.db --keep   # reuse a filled store

Observations are synthetic (nothing is scanned); addresses lie in 127.64.0.0/10 so
nothing in the store could ever point a later scan off the machine. Queries go
through the real app (httpx ASGI transport, real routing, auth, JSON) and the real
SQLite store and query language.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from netatlas.api import create_app
from netatlas.model import Observation, Scan
from netatlas.store import open_store

BASE_IP = int(ipaddress.ip_address("127.64.0.0"))
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


def fill(db: str, n: int, seed: int = 1) -> float:
    rng = random.Random(seed)
    store = open_store(db)
    scan_id = f"bench-{n}"
    store.begin_scan(Scan(id=scan_id, started=T0, args={"targets": ["127.64.0.0/10"]},
                          status="finished", total=n, done=n))
    started = time.perf_counter()
    for i in range(n):
        store.add(synthetic(i, rng, scan_id))
        if i and i % 100_000 == 0:
            rate = i / (time.perf_counter() - started)
            print(f"  ... {i:,} observations ({rate:,.0f}/s)", file=sys.stderr)
    store.flush()
    store.close()
    return time.perf_counter() - started


SEARCHES = [
    ("search all (page 1)", "/api/v1/search", {"q": "", "limit": 100}),
    ("search port:22", "/api/v1/search", {"q": "port:22", "limit": 100}),
    ("search product:nginx version:>1.20", "/api/v1/search",
     {"q": "product:nginx version:>1.20", "limit": 100}),
    ('search full text "Dashboard"', "/api/v1/search", {"q": '"Dashboard"', "limit": 100}),
    ("search http.title:Jenkins*", "/api/v1/search", {"q": "http.title:Jenkins*", "limit": 100}),
    ("search net:127.64.0.0/16 -port:80", "/api/v1/search",
     {"q": "net:127.64.0.0/16 -port:80", "limit": 100}),
    ("search page 50 (offset 4900)", "/api/v1/search", {"q": "service:http", "page": 50}),
    ("shodan search port:443 + facets", "/shodan/host/search",
     {"query": "port:443", "facets": "product:5,http.title:5"}),
    ("count service:http", "/api/v1/count", {"q": "service:http"}),
]
FACETS = [
    ("facets port,product,service (all)", "/api/v1/stats",
     {"q": "", "facets": "port,product,service"}),
    ("facets product:20 (service:ssh)", "/api/v1/stats",
     {"q": "service:ssh", "facets": "product:20"}),
    ("facets tag,version (product:OpenSSH)", "/api/v1/stats",
     {"q": "product:OpenSSH", "facets": "tag,version"}),
]


async def time_queries(db: str, repeat: int) -> list[tuple[str, float, float, int]]:
    ks = open_store(db)
    key = ks.create_key("read", "bench")[0]
    ks.close()
    app = create_app(db, rate=0)
    rows = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b",
                                 headers={"X-API-Key": key}, timeout=120) as c:
        for label, path, params in SEARCHES + FACETS:
            times = []
            total = 0
            for _ in range(repeat + 1):
                t = time.perf_counter()
                r = await c.get(path, params=params)
                elapsed = time.perf_counter() - t
                r.raise_for_status()
                total = r.json().get("total", 0)
                times.append(elapsed)
            times = times[1:]  # the first run warms the page cache
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]
            rows.append((label, p50 * 1000, p95 * 1000, total))
    app.state.services.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated store sizes")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per query")
    ap.add_argument("--db", default=None, help="store path (one size only); reused if it exists")
    ap.add_argument("--keep", action="store_true", help="keep the store files")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    tmp = Path(tempfile.mkdtemp(prefix="netatlas-bench-"))
    for n in sizes:
        db = args.db or str(tmp / f"bench-{n}.db")
        if not Path(db).exists():
            print(f"filling {n:,} observations into {db}", file=sys.stderr)
            secs = fill(db, n)
            size_mb = os.path.getsize(db) / 1e6
            print(f"filled {n:,} in {secs:.1f}s ({n / secs:,.0f}/s), {size_mb:,.0f} MB",
                  file=sys.stderr)
        rows = asyncio.run(time_queries(db, args.repeat))
        print(f"\n{n:,} observations — {args.repeat} runs each, through the API (ms)")
        print(f"{'query':<42} {'p50':>9} {'p95':>9} {'total':>10}")
        for label, p50, p95, total in rows:
            print(f"{label:<42} {p50:>9.1f} {p95:>9.1f} {total:>10,}")
        if not args.keep and not args.db:
            for suffix in ("", "-wal", "-shm"):
                Path(db + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
