"""Shodan's ``elastic`` banner property and netatlas's ``elastic`` section, both ways
(interop/shodan_elastic.py): an imported Shodan Elasticsearch banner is searchable with
``elastic.*`` and, with --reidentify, rated elasticsearch-open; an export carries Shodan's
``cluster`` / ``indices`` / ``nodes``; and what goes out comes back (on both store
backends)."""

from __future__ import annotations

import copy
import gzip
import io
import json
from pathlib import Path
from typing import Any

from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier
from netatlas.interop.shodan import convert
from netatlas.interop.shodan_elastic import from_shodan, to_shodan
from netatlas.interop.shodan_writer import write
from netatlas.store import Store
from tests.grab.test_elastic import ES_401_BODY, ES_401_HEADERS, ES_INDICES, ES_ROOT
from tests.query.test_protocol_fields import _elastic

# A Shodan banner of an open Elasticsearch node, as `shodan download` writes one. Its
# shape: Shodan's Datapedia (https://datapedia.shodan.io/, the banner's `elastic`
# property: `cluster`, `indices`, `nodes` objects), as tools reading Shodan results use
# it — `elastic.cluster.cluster_name`, `.status`, `.nodes.count.total`,
# `.indices.store.size_in_bytes`, `elastic.indices` as {name: stats}. The objects are
# Elasticsearch's own replies, shaped as its reference documents them: `cluster` is
# GET /_cluster/stats, `indices` GET /_stats's `indices` (primaries.docs.count,
# total.store.size_in_bytes; health and status per index since 7.x), `nodes` GET /_nodes.
# The values are made up; the address is a documentation range (192.0.2.0/24).
BANNER: dict[str, Any] = {
    "_shodan": {"id": "3bd4d0ac-5f4d-4ab5-9d27-1c3e1e4e6f21", "module": "elastic",
                "crawler": "42f86247b760542c0192b61c60405edc5db01d55", "ptr": False,
                "options": {}},
    "ip": 3221226082, "ip_str": "192.0.2.98", "port": 9200, "transport": "tcp",
    "timestamp": "2026-11-30T08:14:55.118284", "hash": -1706219386,
    "product": "Elastic", "version": "7.17.9", "org": "Example Org", "asn": "AS64500",
    "hostnames": [], "domains": [], "tags": ["database"],
    "location": {"country_code": "NL", "city": "Amsterdam", "latitude": 52.37,
                 "longitude": 4.89},
    "data": ("HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\n"
             "content-type: application/json; charset=UTF-8\r\ncontent-length: 540\r\n\r\n"
             "\nElastic Indices:\n\n    customers\n    .geoip_databases\n    logs-2026.11\n"),
    "elastic": {
        "cluster": {
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": "prod-search", "cluster_uuid": "6cbzrKbHSh-AmNfRLsT3xA",
            "timestamp": 1764490495118, "status": "yellow",
            "indices": {"count": 3, "shards": {"total": 3, "primaries": 3},
                        "docs": {"count": 1284411, "deleted": 0},
                        "store": {"size_in_bytes": 811634105}},
            "nodes": {"count": {"total": 1, "data": 1, "master": 1},
                      "versions": ["7.17.9"]},
        },
        "indices": {
            ".geoip_databases": {
                "uuid": "Zc2Nv4cETlu1kKQH2q8rLg", "health": "green", "status": "open",
                "primaries": {"docs": {"count": 41, "deleted": 0},
                              "store": {"size_in_bytes": 40319882}},
                "total": {"docs": {"count": 41, "deleted": 0},
                          "store": {"size_in_bytes": 40319882}}},
            "customers": {
                "uuid": "q6T0lXr9Q6y0tRz6h2X8CQ", "health": "yellow", "status": "open",
                "primaries": {"docs": {"count": 1284000, "deleted": 0},
                              "store": {"size_in_bytes": 771284200}},
                "total": {"docs": {"count": 1284000, "deleted": 0},
                          "store": {"size_in_bytes": 771284200}}},
            "logs-2026.11": {
                "uuid": "0aBfW3W5SfqPqaxs6kQbMw", "health": "yellow", "status": "open",
                "primaries": {"docs": {"count": 370, "deleted": 0},
                              "store": {"size_in_bytes": 30023}},
                "total": {"docs": {"count": 370, "deleted": 0},
                          "store": {"size_in_bytes": 30023}}},
        },
        "nodes": {
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": "prod-search",
            "nodes": {"Wn2F2uQsQ8y1yjw0pJxG6w": {
                "name": "es-data-01", "transport_address": "192.0.2.98:9300",
                "host": "192.0.2.98", "ip": "192.0.2.98", "version": "7.17.9",
                "build_flavor": "default", "build_type": "docker",
                "build_hash": "ef48222227ee6b9e70e502f0f0daa52435ee634d",
                "roles": ["data", "ingest", "master"]}},
        },
    },
}
SECTION = {  # what netatlas makes of it
    "auth_required": False, "version": "7.17.9", "distribution": "elasticsearch",
    "node_name": "es-data-01", "cluster_name": "prod-search",
    "cluster_uuid": "6cbzrKbHSh-AmNfRLsT3xA", "build_flavor": "default",
    "build_type": "docker", "node_count": 1, "health": "yellow",
    "indices": [  # largest first, as the grabber asks _cat/indices
        {"name": "customers", "docs": 1284000, "size": 771284200, "health": "yellow",
         "status": "open"},
        {"name": ".geoip_databases", "docs": 41, "size": 40319882, "health": "green",
         "status": "open"},
        {"name": "logs-2026.11", "docs": 370, "size": 30023, "health": "yellow",
         "status": "open"}],
    "index_count": 3, "docs_total": 1284411,
}


def _gz(path: Path, banners: list[dict[str, Any]]) -> Path:
    path.write_bytes(gzip.compress("".join(json.dumps(b) + "\n" for b in banners).encode()))
    return path


def _export(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = io.BytesIO()
    write(records, out)
    return [json.loads(line) for line in gzip.decompress(out.getvalue()).splitlines()]


def test_a_shodan_banner_becomes_the_section() -> None:
    assert from_shodan(BANNER["elastic"], "Elastic") == SECTION
    obs = convert(copy.deepcopy(BANNER))
    assert obs.sections["elastic"] == SECTION


def test_import_reidentify_search(store: Store, tmp_path: Path) -> None:
    path = _gz(tmp_path / "es.json.gz", [BANNER])
    report = import_file(store, str(path), transform=Reidentifier(store))
    assert report.error is None and report.imported == 1
    for query in ("elastic.version:>=7", "elastic.version:[7.17 TO 8.0]",
                  "elastic.cluster_name:prod-search", "elastic.index:customer*",
                  "elastic.index_count:3", "elastic.health:yellow",
                  "elastic.auth_required:false", "elastic.node_name:es-data-01",
                  "risk:elasticsearch-open", "product:Elasticsearch"):
        assert store.count(query) == 1, query
    assert store.count("elastic.version:>=8") == 0
    rec = store.search("risk:elasticsearch-open")[0]
    finding = next(r for r in rec["risks"] if r["id"] == "elasticsearch-open")
    assert "prod-search" in finding["evidence"] and "customers" in finding["evidence"]


def test_export_carries_shodans_shape_and_reads_back(store: Store, tmp_path: Path) -> None:
    import_file(store, str(_gz(tmp_path / "es.json.gz", [BANNER])))
    (out,) = _export(list(store.iter_search("")))
    es = out["elastic"]
    assert set(es) == {"cluster", "indices", "nodes"}
    cluster = es["cluster"]
    assert cluster["cluster_name"] == "prod-search" and cluster["status"] == "yellow"
    assert cluster["indices"] == {"count": 3, "docs": {"count": 1284411},
                                  "store": {"size_in_bytes": 811634105}}
    assert cluster["nodes"] == {"count": {"total": 1}, "versions": ["7.17.9"]}
    assert es["indices"]["customers"]["primaries"]["docs"]["count"] == 1284000
    assert es["indices"]["customers"]["total"]["store"]["size_in_bytes"] == 771284200
    (node,) = es["nodes"]["nodes"].values()
    assert node["name"] == "es-data-01" and node["version"] == "7.17.9"
    # and back: the same section
    assert convert(out).sections["elastic"] == SECTION


def test_a_grabbed_section_goes_out_and_comes_back() -> None:
    grabbed = _elastic(200, [], ES_ROOT, ES_INDICES)
    back = from_shodan(to_shodan(grabbed), "Elasticsearch")
    # GET /'s lucene_version and tagline have no place in Shodan's objects
    assert back == {k: v for k, v in grabbed.items() if k not in ("lucene_version", "tagline")}
    opensearch = {**grabbed, "distribution": "opensearch"}
    assert from_shodan(to_shodan(opensearch), "OpenSearch")["distribution"] == "opensearch"


def test_a_guarded_node_has_no_shodan_shape_and_is_kept_as_it_is() -> None:
    guarded = _elastic(401, ES_401_HEADERS, ES_401_BODY)
    assert guarded["auth_required"] is True
    assert to_shodan(guarded) == guarded
    assert from_shodan(to_shodan(guarded)) == guarded


def test_hostile_shapes_give_what_they_hold() -> None:
    odd = {"cluster": {"cluster_name": ["x"], "status": "purple", "indices": {"count": -1}},
           "indices": {"a" * 1000: {"primaries": {"docs": {"count": "12"}}}, "b": [1]},
           "nodes": {"nodes": {"n1": {"version": 7}, "n2": "x"}}}
    got = from_shodan(odd)
    assert got["auth_required"] is False and "version" not in got and "health" not in got
    assert got["indices"] == [{"name": "a" * 256, "docs": None, "size": None}]
    assert got["index_count"] == 1 and "cluster_name" not in got


async def test_the_shodan_api_serves_the_shape_the_export_writes(tmp_path: Path) -> None:
    """/shodan/host and /shodan/host/search give Shodan's elastic objects too, the same as
    `export --format shodan` (one banner converter, api/_records.shodan_banner)."""
    import httpx

    from netatlas.api import create_app
    from netatlas.store import open_store

    db = tmp_path / "api.db"
    s = open_store(db)
    import_file(s, str(_gz(tmp_path / "es.json.gz", [BANNER])))
    key = s.create_key("read", "test")[0]
    (exported,) = _export(list(s.iter_search("")))
    s.close()
    app = create_app(str(db), allow=["127.0.0.0/8"], rate=1000, burst=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", headers={"X-API-Key": key}) as c:
        host = (await c.get(f"/shodan/host/{BANNER['ip_str']}")).json()
        found = (await c.get("/shodan/host/search",
                             params={"query": "elastic.cluster_name:prod-search",
                                     "minify": "false"})).json()
    await app.state.services.scans.shutdown()
    app.state.services.close()
    (banner,) = host["data"]
    assert banner["elastic"] == exported["elastic"]
    assert set(banner["elastic"]) == {"cluster", "indices", "nodes"}
    assert found["matches"][0]["elastic"] == exported["elastic"]
