"""Data stores and control APIs that answer without authentication."""

from __future__ import annotations

import json
from typing import Any

from ...model import Observation
from ._base import Check, Evidence, as_dict, http_section, page_html, product_name, quote, sec


def redis_no_auth(obs: Observation) -> str | None:
    r = sec(obs, "redis")
    if r.get("auth_required") is False and r.get("info"):
        version = r["info"].get("redis_version")
        return "INFO answered without AUTH" + (f" (redis_version {quote(version)})"
                                               if version else "")
    return None


def memcached_open(obs: Observation) -> str | None:
    m = sec(obs, "memcached")
    if m.get("version") or "uptime" in m:
        return (f"stats answered without auth (version {quote(m.get('version'))}, "
                f"curr_items {m.get('curr_items')})")
    return None


def _http_open_store(product_words: tuple[str, ...], body_marks: tuple[str, ...]) -> Evidence:
    """An HTTP data store / control API answering 200 to an unauthenticated GET /."""

    def check(obs: Observation) -> str | None:
        h = http_section(obs)
        # a well-known API path (http.api, kept only when it answered 200) is evidence
        # even when GET / is a 404, as on etcd
        api = as_dict(h.get("api"))
        for name, doc in api.items():
            for mark in body_marks:
                if isinstance(doc, str) and mark in doc:
                    return f"API document {quote(name)} answered 200 and contains {quote(mark)}"
        if h.get("status") != 200:
            return None
        prod = product_name(obs)
        if any(w in prod for w in product_words):
            return f"product {quote(obs.product)}, GET / status 200"
        html = page_html(obs)
        for mark in body_marks:
            if mark in html:
                return f"GET / status 200, body contains {quote(mark)}"
        return None

    return check


# records without an elastic section (imported, or grabbed before it existed)
_ES_FROM_HTTP = _http_open_store(("elasticsearch",), ('"tagline" : "You Know, for Search"',
                                                     '"tagline":"You Know, for Search"'))


def elasticsearch_open(obs: Observation) -> str | None:
    """GET / answered an Elasticsearch / OpenSearch root document without credentials
    (the elastic section, grab/protocols/elastic.py); its evidence counts the indices
    _cat/indices then listed. A security layer's 401 / 403 is never a finding."""
    e = sec(obs, "elastic")
    if e.get("auth_required") is True:
        return None
    if e.get("auth_required") is not False:
        return _ES_FROM_HTTP(obs)
    name = "OpenSearch" if e.get("distribution") == "opensearch" else "Elasticsearch"
    # the count before the names: evidence is cut at EVIDENCE_MAX
    said = [f"{name} {quote(e.get('version'), 20)}"]
    if e.get("cluster_name"):
        said.append(f"cluster {quote(e['cluster_name'], 30)}")
    out = f"GET / answered without credentials ({', '.join(said)})"
    indices = e.get("indices")
    if isinstance(indices, list):
        count = e.get("index_count")
        count = count if isinstance(count, int) else len(indices)
        names = [i["name"] for i in indices[:3]
                 if isinstance(i, dict) and isinstance(i.get("name"), str)]
        more = "+" if e.get("indices_truncated") and count <= len(indices) else ""
        out += f"; _cat/indices listed {count}{more} index(es)"
        if names:
            out += f": {', '.join(quote(n, 24) for n in names)}"
            out += ", …" if count > len(names) else ""
    elif e.get("indices_status"):
        out += f"; _cat/indices answered {quote(e['indices_status'], 5)}"
    return out


def influxdb_open(obs: Observation) -> str | None:
    """InfluxDB 1.x ran ``SHOW DATABASES`` for a client without credentials (401 when
    auth is on), or 2.x offers its first-time setup to anyone (``{"allowed": true}``)."""
    api = http_section(obs).get("api")
    api = api if isinstance(api, dict) else {}
    version = (http_section(obs).get("headers") or {}).get("x-influxdb-version")
    shown = f"InfluxDB {quote(version)}: " if isinstance(version, str) else ""
    query = _json(api.get("influxdb_query"))
    if isinstance(query, dict) and isinstance(query.get("results"), list):
        names = [v[0] for r in query["results"] if isinstance(r, dict)
                 for s in r.get("series") or [] if isinstance(s, dict)
                 for v in s.get("values") or [] if isinstance(v, list) and v]
        return (f"{shown}SHOW DATABASES answered 200 without credentials "
                f"({len(names)} database(s){': ' + quote(names[:5]) if names else ''})")
    setup = _json(api.get("influxdb_setup"))
    if isinstance(setup, dict) and setup.get("allowed") is True:
        return f"{shown}GET /api/v2/setup answered allowed: true (no owner set up yet)"
    return None


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def mongodb_exposed(obs: Observation) -> str | None:
    # hello and buildInfo are answered before authentication: this proves the server
    # talks to the network, not that its data is readable (that is never tried).
    m = sec(obs, "mongodb")
    if m.get("buildinfo_answered") is not True:
        return None
    said = (f"hello and buildInfo answered to an unauthenticated client (version "
            f"{quote(m.get('version'))})")
    # an imported Shodan banner may say what listDatabases answered (its crawler asks)
    dbs = [d for d in m.get("databases") or [] if isinstance(d, dict)]
    if dbs:
        count = m.get("database_count")
        names = ", ".join(str(d.get("name")) for d in dbs[:3])
        return (f"{said}; listDatabases answered (per the import) "
                f"{count if isinstance(count, int) else len(dbs)} database(s): "
                f"{quote(names, 60)}")
    return f"{said}; data access not tested"


def cassandra_no_auth(obs: Observation) -> str | None:
    """STARTUP answered READY: no authenticator (AllowAllAuthenticator, the default),
    so any client may read and write every keyspace over CQL."""
    c = sec(obs, "cassandra")
    if c.get("auth_required") is not False:
        return None
    name = "ScyllaDB" if c.get("scylla") else "Cassandra"
    if c.get("thrift") is True:  # an imported Shodan banner: learnt over Thrift (9160)
        keyspaces = [str(k) for k in c.get("keyspaces") or []]
        return (f"{name} Thrift describe_keyspaces answered without login (per the "
                f"import): {len(keyspaces)} keyspace(s) {quote(', '.join(keyspaces[:4]), 60)}"
                + (f", cluster {quote(c['cluster_name'], 40)}" if c.get("cluster_name") else ""))
    said = [f"CQL {quote(c['cql_version'], 20)}"] if c.get("cql_version") else []
    if c.get("release_version") and not c.get("scylla"):
        said.append(f"release_version {quote(c['release_version'], 20)}")
    if c.get("cluster_name"):
        said.append(f"cluster {quote(c['cluster_name'], 40)}")
    return (f"{name} answered STARTUP with READY, no credentials asked"
            + (f" ({', '.join(said)})" if said else ""))


CHECKS: tuple[Check, ...] = (
    Check("redis-no-auth", "high", "Redis answers without authentication", redis_no_auth),
    Check("memcached-open", "medium", "Memcached open to the network", memcached_open),
    Check("elasticsearch-open", "high", "Elasticsearch / OpenSearch open without "
          "authentication", elasticsearch_open),
    Check("couchdb-open", "high", "CouchDB open without authentication",
          _http_open_store(("couchdb",), ('"couchdb":"Welcome"',))),
    Check("etcd-open", "high", "etcd API open without authentication",
          _http_open_store(("etcd",), ('"etcdserver":',))),
    Check("docker-api-open", "high", "Docker Engine API open without authentication",
          _http_open_store(("docker",), ('"ApiVersion":',))),
    Check("kubernetes-api-open", "high", "Kubernetes API answers anonymous requests",
          _http_open_store(("kubernetes",), ('"/apis/apps"',))),
    Check("influxdb-open", "high", "InfluxDB answers without authentication", influxdb_open),
    Check("mongodb-open", "high", "MongoDB HTTP interface open",
          _http_open_store(("mongodb",), ())),
    Check("mongodb-exposed", "medium", "MongoDB wire protocol reachable from the network",
          mongodb_exposed),
    Check("cassandra-no-auth", "high", "Cassandra / ScyllaDB accepts CQL clients without "
          "authentication", cassandra_no_auth),
)
