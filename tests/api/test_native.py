"""The native JSON API over a real SQLite store and the real query language."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.api.conftest import ALLOW


async def test_search_pages_cursor_and_facets(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/search", params={"q": "", "limit": 2, "facets": "port:2,service"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 6 and len(body["results"]) == 2
    assert set(body["facets"]) == {"port", "service"}
    assert len(body["facets"]["port"]) == 2
    assert {"value": "http", "count": 2} in body["facets"]["service"]
    seen = [(x["ip_str"], x["port"]) for x in body["results"]]
    cursor = body["next_cursor"]
    while cursor:
        page = (await client.get("/api/v1/search", params={"q": "", "limit": 2,
                                                            "after": cursor})).json()
        seen += [(x["ip_str"], x["port"]) for x in page["results"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6
    # page= walks the same order
    p2 = (await client.get("/api/v1/search", params={"limit": 2, "page": 2})).json()
    assert [(x["ip_str"], x["port"]) for x in p2["results"]] == seen[2:4]
    # a cursor is bound to its query
    bad = await client.get("/api/v1/search", params={"q": "port:22", "after": body["next_cursor"]})
    assert bad.status_code == 400 and "another query" in bad.json()["error"]
    bad = await client.get("/api/v1/search", params={"after": "x" * 40})
    assert bad.status_code == 400


async def test_search_uses_the_query_language(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/search", params={"q": "product:nginx port:80"})
    [rec] = r.json()["results"]
    assert rec["version"] == "1.26.0"  # the latest observation, not the older one
    assert (await client.get("/api/v1/count", params={"q": "net:127.20.0.2/32"})).json() == {
        "total": 4}
    assert (await client.get("/api/v1/count", params={"q": "-port:22 port:<100"})).json()[
        "total"] == 2


async def test_bad_query_is_400_with_position(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/search", "/api/v1/count", "/api/v1/stats", "/api/v1/export"):
        r = await client.get(path, params={"q": "port:>"})
        assert r.status_code == 400, path
        body = r.json()
        assert body["column"] == 7 and body["expected"] and body["error"]
    r = await client.get("/api/v1/stats", params={"facets": "nosuchfacet"})
    assert r.status_code == 400 and "nosuchfacet" in r.json()["error"]
    r = await client.get("/api/v1/search", params={"facets": "port:0"})
    assert r.status_code == 400


async def test_host_with_history(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/host/127.20.0.2")
    body = r.json()
    assert body["ports"] == [22, 80, 6379, 8080]
    assert body["last_update"] == "2026-11-02T12:00:00.000000"
    assert body["vulns"] == ["CVE-2024-0001"] and body["tags"] == ["honeypot-bait"]
    assert len(body["services"]) == 4 and len(body["history"]) == 6
    # hostile bytes come back as inert JSON text
    hostile = next(s for s in body["services"] if s["port"] == 8080)
    assert "\\x00\\xff<script>" in hostile["data"]
    short = (await client.get("/api/v1/host/127.20.0.2", params={"history": "false"})).json()
    assert short["history"] == []
    assert (await client.get("/api/v1/host/127.20.9.9")).status_code == 404
    assert (await client.get("/api/v1/host/not-an-ip")).status_code == 400


async def test_host_diff(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/host/127.20.0.2/diff",
                         params={"from": "2026-11-01T13:00:00", "to": "2026-11-02T13:00:00"})
    d = r.json()
    assert d["ports_before"] == [22, 80, 6379] and d["ports_after"] == [22, 80, 8080]
    assert [o["port"] for o in d["opened"]] == [8080]
    # s2 probed 1-10000 and saw the host without 6379: closed
    assert [c["port"] for c in d["closed"]] == [6379]
    [changed] = d["changed"]
    assert changed["port"] == 80
    assert changed["changes"]["version"] == {"from": "1.22.1", "to": "1.26.0"}
    assert changed["changes"]["http.server"] == {"from": "nginx/1.22.1", "to": "nginx/1.26.0"}
    assert d["unchanged"] == [{"port": 22, "transport": "tcp"}]
    # before anything was seen, everything is new
    early = (await client.get("/api/v1/host/127.20.0.2/diff",
                              params={"from": "2026-10-01", "to": "2026-11-01T12:00:00"})).json()
    assert [o["port"] for o in early["opened"]] == [22, 80, 6379] and not early["closed"]
    bad = await client.get("/api/v1/host/127.20.0.2/diff",
                           params={"from": "2026-12-01", "to": "2026-11-01"})
    assert bad.status_code == 400
    assert (await client.get("/api/v1/host/127.20.0.2/diff",
                             params={"from": "yesterday"})).status_code == 400


async def test_export_streams_jsonl_and_csv(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/api/v1/export", params={"q": "port:>20"}) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [line async for line in r.aiter_lines() if line]
    records = [json.loads(line) for line in lines]
    assert len(records) == 6 and all("ip_str" in x for x in records)
    r = await client.get("/api/v1/export", params={"q": "service:http", "format": "csv"})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["ip_str", "port", "transport"] and len(rows) == 3
    assert {row[1] for row in rows[1:]} == {"80", "8080"}


async def test_stats_and_scans_list(client: httpx.AsyncClient) -> None:
    s = (await client.get("/api/v1/stats", params={"q": "net:127.20.0.0/24",
                                                   "facets": "product:3"})).json()
    assert s["total"] == 6 and len(s["facets"]["product"]) == 3
    scans = (await client.get("/api/v1/scans")).json()
    assert {x["id"] for x in scans} == {"s1", "s2"}
    one = (await client.get("/api/v1/scans/s1")).json()
    assert one["status"] == "finished" and one["running"] is False
    assert (await client.get("/api/v1/scans/nope")).status_code == 404


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/api/v1/search", "/api/v1/host/{ip}/diff", "/api/v1/scans",
                 "/shodan/host/search", "/api-info"):
        assert path in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_server_allow_list_is_reported(client: httpx.AsyncClient) -> None:
    assert client._transport.app.state.services.allow == ALLOW  # type: ignore[attr-defined]
