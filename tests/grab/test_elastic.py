"""Elasticsearch / OpenSearch over HTTP: the ``elastic`` section from GET / and one
_cat/indices, against a test server on loopback that answers as the real ones do, and
against hostile ones (huge, slow, not JSON, nested past any parser).

The reply shapes are the documented ones:
- Elasticsearch 8.x ``GET /``: the "Root API" example of the Elasticsearch reference
  (rest-api-root.html), ``build_flavor: default``, tagline "You Know, for Search";
- OpenSearch 2.x ``GET /``: the OpenSearch documentation's quickstart reply, with
  ``version.distribution: opensearch`` and tagline "The OpenSearch Project: ...";
- ``GET /_cat/indices?format=json``: cat indices API (every cell a string, ``null``
  counts for a closed index, sizes in bytes with ``bytes=b``);
- security on: Elasticsearch's 401 for a request without credentials (x-pack:
  ``WWW-Authenticate: Basic realm="security" charset="UTF-8"`` and a JSON
  ``security_exception``), OpenSearch's security plugin's ``Basic realm="OpenSearch
  Security"`` with the text ``Unauthorized``.
No JVM here: the lab has no Elasticsearch, so these are replayed, byte for byte as
documented, by ``EsLike`` below.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols import elastic
from netatlas.grab.protocols.http_followups import select
from netatlas.identify import Identifier
from netatlas.model import Endpoint

from .conftest import serve

ES_ROOT = b"""{
  "name" : "instance-0000000000",
  "cluster_name" : "my_test_cluster",
  "cluster_uuid" : "5QaxoN0pRZuOmWSxstBBwQ",
  "version" : {
    "build_date" : "2024-02-01T13:07:13.727175297Z",
    "minimum_wire_compatibility_version" : "7.17.0",
    "build_hash" : "6185ba65d27469afabc9bc951cded6c17c21e3f3",
    "number" : "8.12.1",
    "lucene_version" : "9.9.2",
    "minimum_index_compatibility_version" : "7.0.0",
    "build_flavor" : "default",
    "build_snapshot" : false,
    "build_type" : "docker"
  },
  "tagline" : "You Know, for Search"
}
"""
OS_ROOT = b"""{
  "name" : "opensearch-node1",
  "cluster_name" : "opensearch-cluster",
  "cluster_uuid" : "W0B8gPotTAajhMPbC9D4ww",
  "version" : {
    "distribution" : "opensearch",
    "number" : "2.11.1",
    "build_type" : "tar",
    "build_hash" : "7203a5af21a8a009aece1474446b437a3c674db6",
    "build_date" : "2023-11-16T18:57:04.388618985Z",
    "build_snapshot" : false,
    "lucene_version" : "9.7.0",
    "minimum_wire_compatibility_version" : "7.10.0",
    "minimum_index_compatibility_version" : "7.0.0"
  },
  "tagline" : "The OpenSearch Project: https://opensearch.org/"
}
"""
ES_INDICES = json.dumps([
    {"health": "yellow", "status": "open", "index": "customers", "docs.count": "1200",
     "store.size": "88761"},
    {"health": "green", "status": "open", "index": ".security-7", "docs.count": "14",
     "store.size": "20315"},
    {"health": None, "status": "close", "index": "old-logs", "docs.count": None,
     "store.size": None},
]).encode()
ES_401_BODY = (b'{"error":{"root_cause":[{"type":"security_exception","reason":"missing '
               b'authentication credentials for REST request [/]","header":{"WWW-Authenticate"'
               b':["Basic realm=\\"security\\" charset=\\"UTF-8\\"","Bearer realm=\\"security'
               b'\\"","ApiKey"]}}],"type":"security_exception","reason":"missing authentication '
               b'credentials for REST request [/]","header":{"WWW-Authenticate":["Basic realm='
               b'\\"security\\" charset=\\"UTF-8\\"","Bearer realm=\\"security\\"","ApiKey"]}},'
               b'"status":401}')
ES_401_HEADERS = [(b"WWW-Authenticate", b'Basic realm="security" charset="UTF-8"'),
                  (b"WWW-Authenticate", b'Bearer realm="security"'),
                  (b"WWW-Authenticate", b"ApiKey"),
                  (b"X-elastic-product", b"Elasticsearch")]
OS_401_HEADERS = [(b"WWW-Authenticate", b'Basic realm="OpenSearch Security"')]

Route = tuple[int, list[tuple[bytes, bytes]], bytes]


class EsLike:
    """An HTTP/1.1 server answering per path (the query string included), recording the
    targets asked; anything else is Elasticsearch's JSON 404 (no_handler_found)."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.targets: list[str] = []

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        target = head.split(b" ")[1].decode()
        if head.split(b"\r\n", 1)[0].endswith(b" HTTP/1.1"):
            self.targets.append(target)
        status, headers, body = self.routes.get(target, (
            404, [], b'{"error":"no handler found for uri [%s] and method [GET]"}'
            % target.encode()))
        extra = b"".join(b"%s: %s\r\n" % h for h in headers)
        w.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json; charset=UTF-8\r\n%s"
                b"content-length: %d\r\n\r\n%s" % (status, extra, len(body), body))
        await w.drain()


def es_routes(root: bytes = ES_ROOT, indices: bytes = ES_INDICES) -> dict[str, Route]:
    return {"/": (200, [(b"X-elastic-product", b"Elasticsearch")], root),
            elastic.INDICES_PATH: (200, [], indices)}


async def grab(srv: Any, ip: str, opts: GrabOptions) -> tuple[Any, Any]:
    async with serve(srv, ip) as port:
        ep = Endpoint(ip, port)
        res = await grab_endpoint(ep, opts)
    return res, Identifier(nmap=None, fingerprints=None).identify(res, ep)


# -- against a server on loopback -------------------------------------------------------


async def test_elasticsearch_open(fast: GrabOptions) -> None:
    srv = EsLike(es_routes())
    res, ident = await grab(srv, "127.20.251.1", fast)
    assert res.status == "success", res.error
    assert res.sections["elastic"] == {
        "auth_required": False, "version": "8.12.1", "distribution": "elasticsearch",
        "node_name": "instance-0000000000", "cluster_name": "my_test_cluster",
        "cluster_uuid": "5QaxoN0pRZuOmWSxstBBwQ", "build_flavor": "default",
        "build_type": "docker", "lucene_version": "9.9.2", "tagline": "You Know, for Search",
        "indices": [
            {"name": "customers", "docs": 1200, "size": 88761, "health": "yellow",
             "status": "open"},
            {"name": ".security-7", "docs": 14, "size": 20315, "health": "green",
             "status": "open"},
            {"name": "old-logs", "docs": None, "size": None, "status": "close"}],
        "index_count": 3, "docs_total": 1214, "health": "yellow"}
    assert (ident.product, ident.version) == ("Elasticsearch", "8.12.1")
    assert "cpe:/a:elastic:elasticsearch:8.12.1" in ident.cpe
    # one extra request, once, right after GET /
    assert srv.targets.count(elastic.INDICES_PATH) == 1
    assert srv.targets[:2] == ["/", elastic.INDICES_PATH]
    # parsed into the section, not kept raw beside it under http.api
    assert "elastic_indices" not in (res.sections["http"].get("api") or {})


async def test_opensearch_open(fast: GrabOptions) -> None:
    indices = b'[{"health":"green","status":"open","index":"logs-2024","docs.count":"5",' \
              b'"store.size":"4096"}]'
    res, ident = await grab(EsLike(es_routes(OS_ROOT, indices)), "127.20.251.2", fast)
    el = res.sections["elastic"]
    assert el["distribution"] == "opensearch" and el["version"] == "2.11.1"
    assert el["cluster_name"] == "opensearch-cluster" and "build_flavor" not in el
    assert el["indices"] == [{"name": "logs-2024", "docs": 5, "size": 4096,
                              "health": "green", "status": "open"}]
    assert (ident.product, ident.version) == ("OpenSearch", "2.11.1")
    assert "cpe:/a:amazon:opensearch:2.11.1" in ident.cpe


async def test_elasticsearch_security_on(fast: GrabOptions) -> None:
    """x-pack's 401: the section says auth is required, and nothing more is asked."""
    srv = EsLike({"/": (401, ES_401_HEADERS, ES_401_BODY)})
    res, ident = await grab(srv, "127.20.251.3", fast)
    assert res.sections["elastic"] == {"auth_required": True, "status": 401,
                                       "distribution": "elasticsearch", "realm": "security"}
    assert ident.product == "Elasticsearch" and ident.version is None
    assert elastic.INDICES_PATH not in srv.targets
    assert not any(t.startswith("/_") for t in srv.targets)


async def test_opensearch_security_on(fast: GrabOptions) -> None:
    srv = EsLike({"/": (401, OS_401_HEADERS, b"Unauthorized")})
    res, ident = await grab(srv, "127.20.251.4", fast)
    assert res.sections["elastic"] == {"auth_required": True, "status": 401,
                                       "distribution": "opensearch",
                                       "realm": "OpenSearch Security"}
    assert ident.product == "OpenSearch"
    assert elastic.INDICES_PATH not in srv.targets


async def test_a_plain_basic_prompt_is_not_elastic(fast: GrabOptions) -> None:
    srv = EsLike({"/": (401, [(b"WWW-Authenticate", b'Basic realm="security"')],
                        b"<h1>401</h1>")})
    res, _ = await grab(srv, "127.20.251.5", fast)
    assert "elastic" not in res.sections
    assert elastic.INDICES_PATH not in srv.targets


async def test_index_list_refused_keeps_the_root(fast: GrabOptions) -> None:
    """An anonymous user may read / but not the indices (403): the root's facts stay."""
    routes = es_routes()
    routes[elastic.INDICES_PATH] = (403, [], b'{"error":{"type":"security_exception"}}')
    res, _ = await grab(EsLike(routes), "127.20.251.6", fast)
    el = res.sections["elastic"]
    assert el["auth_required"] is False and el["indices_status"] == 403
    assert "indices" not in el and "index_count" not in el


# -- hostile servers ------------------------------------------------------------------


async def test_huge_index_list_is_capped(fast: GrabOptions) -> None:
    rows = [{"health": "green", "status": "open", "index": f"i{n:06d}" + "x" * 300,
             "docs.count": str(n), "store.size": "1"} for n in range(20000)]
    big = json.dumps(rows).encode()  # ~7 MB: past max_body
    res, _ = await grab(EsLike(es_routes(indices=big)), "127.20.251.7", fast)
    el = res.sections["elastic"]
    assert len(el["indices"]) == elastic.MAX_INDICES
    assert all(len(i["name"]) <= elastic.MAX_TEXT for i in el["indices"])
    assert el["indices_truncated"] is True and "health" not in el  # a part says no worst
    assert elastic.MAX_INDICES < el["index_count"] < 20000
    assert len(json.dumps(el)) < 16 * 1024


async def test_slow_index_list_is_time_bounded(fast: GrabOptions) -> None:
    """A drip-fed index list costs its read deadline; the grab keeps the root."""
    routes = es_routes()

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        if b"/_cat/indices" in head:
            w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: 100000\r\n\r\n[")
            for _ in range(600):
                w.write(b'{"index":"a"},')
                await w.drain()
                await asyncio.sleep(0.05)
            return
        r2 = asyncio.StreamReader()
        r2.feed_data(head)
        r2.feed_eof()
        await EsLike(routes)(r2, w)

    loop = asyncio.get_running_loop()
    start = loop.time()
    res, _ = await grab(handler, "127.20.251.8", fast)
    assert loop.time() - start < fast.total_timeout + 1
    assert res.status == "success", res.error
    el = res.sections["elastic"]
    assert el["cluster_name"] == "my_test_cluster"
    assert "indices" not in el or el.get("indices_truncated") is True


async def test_not_json_and_deep_nesting(fast: GrabOptions) -> None:
    deep = b"[" * 200000 + b"]" * 200000
    for n, (root, indices) in enumerate([
        (b"You Know, for Search <html>", ES_INDICES),  # root not JSON
        (ES_ROOT, b"<html>not json</html>"),
        (ES_ROOT, deep),
        (b'{"version":' * 50000 + b"1" + b"}" * 50000, ES_INDICES),
    ]):
        res, _ = await grab(EsLike(es_routes(root, indices)), f"127.20.251.{10 + n}", fast)
        assert res.status == "success", res.error
        el = res.sections.get("elastic")
        if n == 0 or n == 3:
            assert el is None
        else:
            assert el is not None and el["version"] == "8.12.1"
            assert "indices" not in el or el["indices"] == []


# -- sans-IO --------------------------------------------------------------------------


def test_follow_up_selected_only_for_an_open_root() -> None:
    def names(status: int, body: bytes) -> list[str]:
        return [r.name for r in select({"status": status, "html": body.decode()})]

    assert "elastic_indices" in names(200, ES_ROOT)
    assert "elastic_indices" in names(200, OS_ROOT)
    compatible = b'{"name":"n","cluster_uuid":"u","version":{"number":"7.10.2",' \
                 b'"lucene_version":"8.7.0"}}'
    assert "elastic_indices" in names(200, compatible)
    assert "elastic_indices" not in names(401, ES_401_BODY)
    assert "elastic_indices" not in names(200, b"<html>You know, for search</html>")


def test_root_shapes() -> None:
    compatible = b'{"name":"n","cluster_uuid":"u","version":{"number":"7.10.2",' \
                 b'"lucene_version":"8.7.0"}}'
    got = elastic.root_section(200, {}, compatible)
    assert got is not None and "distribution" not in got and got["version"] == "7.10.2"
    # a version that is no version is no root document
    bad = ES_ROOT.replace(b'"8.12.1"', b'"8.12.1 <script>"')
    assert elastic.root_section(200, {}, bad) is None
    assert elastic.root_section(200, {}, b'{"version":"1.0"}') is None
    assert elastic.root_section(500, {}, ES_ROOT) is None
    # 403 to an anonymous user x-pack knows, without a realm header
    forbidden = elastic.root_section(403, {}, b'{"error":{"type":"security_exception"}}')
    assert forbidden == {"auth_required": True, "status": 403, "distribution": "elasticsearch"}


def test_index_cells_are_checked() -> None:
    facts = elastic.indices_facts(200, json.dumps([
        {"index": "a", "docs.count": "-1", "store.size": "1e9", "health": "purple"},
        {"index": 7}, "junk", None,
        {"index": "b", "docs.count": 3, "store.size": True, "health": "red"},
    ]).encode())
    assert facts == {"indices": [{"name": "a", "docs": None, "size": None},
                                 {"name": "b", "docs": 3, "size": None, "health": "red"}],
                     "index_count": 2, "docs_total": 3, "health": "red"}
    assert elastic.indices_facts(200, b'{"not":"a list"}') == {}
    assert elastic.indices_facts(None, b"") == {}
    cut = elastic.indices_facts(200, b'[{"index":"a"},{"index":"b"},{"ind')
    assert [i["name"] for i in cut["indices"]] == ["a", "b"]
    assert cut["indices_truncated"] is True
