"""The Shodan-compatible endpoints: shapes and names, over ASGI."""

from __future__ import annotations

from pathlib import Path

import httpx

from netatlas.api import create_app
from tests.enrich._mmdb import asn_db, city_db


async def test_search_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/shodan/host/search",
                         params={"query": "port:80,8080", "facets": "port:1,product"})
    body = r.json()
    assert set(body) == {"matches", "total", "facets"}
    assert body["total"] == 2
    assert body["facets"]["port"] == [{"value": 80, "count": 1}]  # ties: by value
    m = body["matches"][0]
    for key in ("ip", "ip_str", "port", "transport", "timestamp", "hostnames", "domains",
                "location", "org", "asn", "data", "product", "version", "cpe", "tags",
                "vulns", "_shodan", "hash"):
        assert key in m, key
    assert m["ip"] == 0x7F140002 and m["ip_str"] == "127.20.0.2"
    # minified by default (Shodan's client sends minify=True): no protocol sections
    assert "http" not in m and "risks" not in m
    full = (await client.get("/shodan/host/search",
                             params={"query": "port:8080", "minify": "False"})).json()
    assert full["matches"][0]["http"]["title"] == "<img src=x onerror=alert(1)>"


async def test_fields_limit_offset_and_pages(client: httpx.AsyncClient) -> None:
    r = await client.get("/shodan/host/search",
                         params={"query": "", "fields": "ip_str,port,http.title"})
    matches = r.json()["matches"]
    assert len(matches) == 6
    assert all(set(m) <= {"ip_str", "port", "http"} for m in matches)
    assert {"ip_str": "127.20.0.2", "port": 8080,
            "http": {"title": "<img src=x onerror=alert(1)>"}} in matches
    window = (await client.get("/shodan/host/search",
                               params={"query": "", "limit": 2, "offset": 2})).json()
    assert [m["port"] for m in window["matches"]] == [m["port"] for m in matches[2:4]]
    page2 = (await client.get("/shodan/host/search", params={"query": "", "page": 2})).json()
    assert page2["matches"] == [] and page2["total"] == 6


async def test_count_host_and_lists(client: httpx.AsyncClient) -> None:
    c = (await client.get("/shodan/host/count",
                          params={"query": "service:http", "facets": "product"})).json()
    assert c["total"] == 2 and c["matches"] == []
    assert {f["value"] for f in c["facets"]["product"]} == {"nginx", "Apache httpd"}
    h = (await client.get("/shodan/host/127.20.0.2")).json()
    assert h["ip_str"] == "127.20.0.2" and h["ports"] == [22, 80, 6379, 8080]
    assert len(h["data"]) == 4 and h["last_update"] == "2026-11-02T12:00:00.000000"
    hist = (await client.get("/shodan/host/127.20.0.2", params={"history": "True"})).json()
    assert len(hist["data"]) == 6
    mini = (await client.get("/shodan/host/127.20.0.2", params={"minify": "True"})).json()
    assert "data" not in mini and mini["ports"] == [22, 80, 6379, 8080]
    many = (await client.get("/shodan/host/127.20.0.2,127.20.0.3")).json()
    assert [x["ip_str"] for x in many] == ["127.20.0.2", "127.20.0.3"]
    r = await client.get("/shodan/host/127.20.9.9")
    assert r.status_code == 404 and r.json()["error"]
    filters = (await client.get("/shodan/host/search/filters")).json()
    assert {"port", "product", "net", "http.title", "org"} <= set(filters)
    facets = (await client.get("/shodan/host/search/facets")).json()
    assert {"port", "product"} <= set(facets)
    info = (await client.get("/api-info")).json()
    assert info["plan"] == "netatlas" and info["role"] == "read"


async def test_bad_query_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/shodan/host/search", params={"query": "port:>"})
    assert r.status_code == 400 and r.json()["column"] == 7


async def test_geo_fields_from_mmdb(db: Path, keys: dict[str, str], tmp_path: Path) -> None:
    app = create_app(str(db), geoip=[str(city_db(tmp_path)), str(asn_db(tmp_path))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t", headers={"X-API-Key": keys["read"]}) as c:
        h = (await c.get("/shodan/host/127.20.0.2")).json()
        assert (h["country_code"], h["city"], h["latitude"]) == ("AQ", "Atlantis", -71.25)
        assert h["asn"] == "AS64500" and h["org"] == "Example Lab Networks"
        assert h["data"][0]["location"]["country_name"] == "Antarctica"
        rec = (await c.get("/api/v1/search", params={"q": "port:21"})).json()["results"][0]
        assert rec["location"]["city"] == "Atlantis" and rec["asn"] == "AS64500"
        native = (await c.get("/api/v1/host/127.20.0.4")).json()
        assert native["location"]["country_code"] == "AQ"
        lines = (await c.get("/api/v1/export", params={"q": "port:22"})).text
        assert '"org": "Example Lab Networks"' in lines
    app.state.services.close()
