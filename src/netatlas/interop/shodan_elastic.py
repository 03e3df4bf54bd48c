"""Shodan's ``elastic`` banner property <-> netatlas's ``elastic`` section, both ways.

Shodan (its Datapedia: ``elastic`` with ``cluster``, ``indices`` and ``nodes`` objects)
keeps what an Elasticsearch node told a client without credentials, as Elasticsearch's
own replies, and tools reading Shodan results read it so (``elastic.cluster.cluster_name``,
``.status``, ``.nodes.count.total``, ``.indices.store.size_in_bytes``; ``elastic.indices``
as ``{name: stats}``):

- ``cluster``: ``GET /_cluster/stats`` — ``cluster_name``, ``cluster_uuid``, ``status``
  (green / yellow / red), ``indices.count``, ``indices.docs.count``,
  ``indices.store.size_in_bytes``, ``nodes.count.total``, ``nodes.versions``;
- ``indices``: ``GET /_stats``'s ``indices``, each index name -> its stats
  (``primaries.docs.count``, ``total.store.size_in_bytes``; ``health`` and ``status``
  where the release lists them);
- ``nodes``: ``GET /_nodes`` — ``cluster_name``, ``nodes`` by node id, each with
  ``name``, ``version``, ``build_flavor``, ``build_type``.

netatlas's section (grab/protocols/elastic.py) says the same from ``GET /`` and
``_cat/indices``: ``cluster_name``, ``cluster_uuid``, ``node_name``, ``version``,
``distribution``, ``auth_required``, ``indices`` (name, docs, size, health, status;
largest first, ``MAX_INDICES`` kept), ``index_count``, ``docs_total``, ``health``.

Shodan holds an ``elastic`` object only for a node that answered without credentials,
so an imported one is ``auth_required: false`` (and rates as elasticsearch-open). A
netatlas section of a node that asked for credentials has no Shodan counterpart: it is
exported as it is, and read back as it is (an ``elastic`` object without ``cluster``,
``indices`` or ``nodes`` is netatlas's own shape). Every value from a file is checked
for its type and cut to the grabber's limits.
"""

from __future__ import annotations

from typing import Any

from netatlas.grab.protocols.elastic import MAX_INDICES, MAX_TEXT

_HEALTH = ("green", "yellow", "red")
SHODAN_KEYS = ("cluster", "indices", "nodes")
# the section's keys the importer keeps when a file holds netatlas's own shape
_OWN_KEYS = frozenset({
    "auth_required", "status", "realm", "version", "distribution", "node_name",
    "cluster_name", "cluster_uuid", "build_flavor", "build_type", "lucene_version",
    "tagline", "indices", "index_count", "docs_total", "health", "indices_truncated",
    "indices_status", "node_count"})


def _text(v: Any) -> str | None:
    return v[:MAX_TEXT] if isinstance(v, str) and v else None


def _count(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        return None
    return v


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _at(d: Any, *path: str) -> Any:
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d


def is_shodan_shape(value: dict[str, Any]) -> bool:
    return any(isinstance(value.get(k), dict) for k in SHODAN_KEYS)


# -- Shodan -> netatlas ------------------------------------------------------------------
def from_shodan(value: dict[str, Any], product: str | None = None) -> dict[str, Any]:
    """The netatlas ``elastic`` section of a Shodan banner's ``elastic`` object (in
    netatlas's own shape already: its known keys, as they are)."""
    if not is_shodan_shape(value):
        return {k: v for k, v in value.items() if k in _OWN_KEYS}
    cluster = _dict(value.get("cluster"))
    nodes_doc = _dict(value.get("nodes"))
    nodes = [n for n in _dict(nodes_doc.get("nodes")).values() if isinstance(n, dict)]
    out: dict[str, Any] = {"auth_required": False}
    # the release: a node's (the one that answered is not said), else the cluster's list
    versions = [v for v in (_text(n.get("version")) for n in nodes) if v]
    listed = _at(cluster, "nodes", "versions")
    if isinstance(listed, list):
        versions += [v for v in map(_text, listed) if v]
    if versions:
        out["version"] = versions[0]
    said = " ".join(str(x) for x in (product, *(n.get("distribution") for n in nodes)) if x)
    out["distribution"] = "opensearch" if "opensearch" in said.lower() else "elasticsearch"
    if len(nodes) == 1 and (name := _text(nodes[0].get("name"))):
        out["node_name"] = name
    for key, got in (("cluster_name", cluster.get("cluster_name")
                      or nodes_doc.get("cluster_name")),
                     ("cluster_uuid", cluster.get("cluster_uuid")),
                     ("build_flavor", nodes[0].get("build_flavor") if nodes else None),
                     ("build_type", nodes[0].get("build_type") if nodes else None)):
        if (text := _text(got)) is not None:
            out[key] = text
    if (total := _count(_at(cluster, "nodes", "count", "total"))) is not None:
        out["node_count"] = total
    if cluster.get("status") in _HEALTH:
        out["health"] = cluster["status"]
    out.update(_indices(value.get("indices"), cluster))
    return out


def _indices(value: Any, cluster: dict[str, Any]) -> dict[str, Any]:
    stats = _dict(value)
    rows: list[dict[str, Any]] = []
    for name, s in stats.items():
        if not isinstance(name, str) or not name or not isinstance(s, dict):
            continue
        entry: dict[str, Any] = {
            "name": name[:MAX_TEXT],
            "docs": _count(_at(s, "primaries", "docs", "count")),
            "size": _count(_at(s, "total", "store", "size_in_bytes"))}
        if s.get("health") in _HEALTH:
            entry["health"] = s["health"]
        if s.get("status") in ("open", "close"):
            entry["status"] = s["status"]
        rows.append(entry)
    count = _count(_at(cluster, "indices", "count"))
    docs = _count(_at(cluster, "indices", "docs", "count"))
    if not rows and count is None:
        return {}
    rows.sort(key=lambda r: -(r["size"] or 0))  # largest first, as _cat/indices is asked
    count = max(count or 0, len(rows))
    out: dict[str, Any] = {
        "indices": rows[:MAX_INDICES], "index_count": count,
        "docs_total": docs if docs is not None else sum(r["docs"] or 0 for r in rows)}
    if count > len(out["indices"]):
        out["indices_truncated"] = True
    return out


# -- netatlas -> Shodan ------------------------------------------------------------------
def to_shodan(section: dict[str, Any]) -> dict[str, Any]:
    """Shodan's ``elastic`` object for a section of a node that answered without
    credentials; any other section as it is (Shodan has no shape for it)."""
    if section.get("auth_required") is not False:
        return section
    cluster: dict[str, Any] = {}
    for key in ("cluster_name", "cluster_uuid"):
        if isinstance(section.get(key), str):
            cluster[key] = section[key]
    if section.get("health") in _HEALTH:
        cluster["status"] = section["health"]
    indices = [i for i in section.get("indices") or [] if isinstance(i, dict)
               and isinstance(i.get("name"), str)]
    counted: dict[str, Any] = {}
    if isinstance(section.get("index_count"), int):
        counted["count"] = section["index_count"]
    if isinstance(section.get("docs_total"), int):
        counted["docs"] = {"count": section["docs_total"]}
    sizes = [i.get("size") for i in indices]
    if indices and not section.get("indices_truncated") and all(
            isinstance(s, int) for s in sizes):
        counted["store"] = {"size_in_bytes": sum(sizes)}  # every index's size known
    if counted:
        cluster["indices"] = counted
    node_facts: dict[str, Any] = {}
    if isinstance(section.get("node_count"), int):
        node_facts["count"] = {"total": section["node_count"]}
    if isinstance(section.get("version"), str):
        node_facts["versions"] = [section["version"]]
    if node_facts:
        cluster["nodes"] = node_facts
    out: dict[str, Any] = {"cluster": cluster}
    if indices or "index_count" in section:
        out["indices"] = {i["name"]: _index_stats(i) for i in indices}
    node = {k: section[k] for k in ("version", "build_flavor", "build_type")
            if isinstance(section.get(k), str)}
    if isinstance(section.get("node_name"), str):
        node = {"name": section["node_name"], **node}
        # _nodes keys its nodes by id; the section has the name only
        nodes: dict[str, Any] = {"nodes": {section["node_name"]: node}}
        if "cluster_name" in cluster:
            nodes["cluster_name"] = cluster["cluster_name"]
        out["nodes"] = nodes
    return out


def _index_stats(entry: dict[str, Any]) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    if isinstance(entry.get("docs"), int):
        stats["primaries"] = {"docs": {"count": entry["docs"]}}
    if isinstance(entry.get("size"), int):
        stats["total"] = {"store": {"size_in_bytes": entry["size"]}}
    for key in ("health", "status"):
        if isinstance(entry.get(key), str):
            stats[key] = entry[key]
    return stats
