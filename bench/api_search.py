"""Search and facet latency through the REST API over a store of N synthetic
observations (default 100k and 1M), printed as p50 / p95.

    .venv/bin/python bench/api_search.py                 # 100k and 1M
    .venv/bin/python bench/api_search.py --sizes 100000 --repeat 30
    .venv/bin/python bench/api_search.py --db /tmp/big.db --keep   # reuse a filled store

Observations are synthetic (nothing is scanned; ``synthetic()`` in bench/_synthetic.py);
addresses lie in 127.64.0.0/10 so nothing in the store could ever point a later scan off
the machine. Queries go through the real app (httpx ASGI transport, real routing, auth,
JSON) and the real SQLite store and query language.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _synthetic import T0, synthetic
from netatlas.api import create_app
from netatlas.model import Scan
from netatlas.store import open_store


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
