"""Elasticsearch, OpenSearch and servers that answer like them, over HTTP (sans-IO: pure
functions; ``http.py`` sends the requests, ``http_followups`` holds the one extra row).

What a normal read-only client sees, and nothing more:

- ``GET /`` (the HTTP grab's own request): the root document names the node, the
  cluster, the release and the distribution (Elasticsearch's "Root API"; OpenSearch adds
  ``version.distribution: opensearch``). With security on, Elasticsearch answers 401
  with ``WWW-Authenticate: Basic realm="security"`` and a ``security_exception``;
  OpenSearch's security plugin with ``Basic realm="OpenSearch Security"``.
- only when ``/`` answered without credentials, one ``GET /_cat/indices`` (the row in
  ``http_followups.FOLLOW_UPS``): each index's name, document count, size and health,
  largest first. The cluster's health is the worst of its indices' ("the cluster status
  is controlled by the worst index status", Elasticsearch's cluster health API).

Every byte is the server's: the bodies come capped by the HTTP reader (``max_body``)
after a time-bounded read, JSON that does not parse (or nests too deep) is no document,
the list keeps ``MAX_INDICES`` entries and every text is cut to ``MAX_TEXT``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PART_OF = "http"  # part of that protocol, not one of its own (protocols/__init__.py)

# Sorted largest first, sizes in bytes; closed indices list no counts (null).
INDICES_PATH = ("/_cat/indices?format=json&bytes=b&s=store.size:desc"
                "&h=health,status,index,docs.count,store.size")
# GET / that earns the index request: 200 and the root document's marks (the taglines,
# or a compatible server's lucene_version; root_section then wants cluster_uuid too).
# One greedy .* from an anchor: linear on a hostile page, two would be quadratic.
WHEN: tuple[dict[str, str], ...] = (
    {"status": r"^200$",
     "body": r'"tagline"\s*:\s*"(?:You Know, for Search|The OpenSearch Project)'},
    {"status": r"^200$", "body": r'(?s)^\s*\{.*"lucene_version"\s*:\s*"\d'},
)

MAX_INDICES = 25  # index entries kept (the count covers them all)
MAX_TEXT = 256  # characters kept of any text (an index name is at most 255 bytes)
MAX_ROOT = 64 * 1024  # bytes of GET / parsed (the real document is under 1 KiB)
_VERSION = re.compile(r"\d+(?:\.\d+)*[\w.+\-]*")
_HEALTH = ("green", "yellow", "red")  # worst last
_ES_TAGLINE = "You Know, for Search"
_OS_TAGLINE = "The OpenSearch Project"
# realms of the security layers that guard / (x-pack, the OpenSearch security plugin and
# its Open Distro predecessor)
_OS_REALMS = ("opensearch security", "open distro security")


def _text(v: Any) -> str | None:
    return v[:MAX_TEXT] if isinstance(v, str) and v else None


def _json(body: bytes, cap: int) -> Any:
    """The parsed document, or None: not JSON, cut short, or nested past the parser."""
    try:
        return json.loads(body[:cap].decode("utf-8", errors="strict"))
    except (ValueError, RecursionError):
        return None


def _number(v: Any) -> int | None:
    """A non-negative count from a _cat cell ("1200", 1200); None when it is not one."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    if isinstance(v, str) and 0 < len(v) <= 20 and v.isdigit():
        return int(v)
    return None


def root_section(status: int | None, headers: Mapping[str, str], body: bytes
                 ) -> dict[str, Any] | None:
    """The ``elastic`` section from ``GET /``, or None when it is not such a server.

    200 with a root document: the cluster's names and release, ``auth_required: false``.
    401 / 403 from Elasticsearch's or OpenSearch's security layer: ``auth_required: true``
    and the realm; nothing else is known."""
    if status == 200:
        return _open_root(headers, body)
    if status in (401, 403):
        return _guarded_root(status, headers, body)
    return None


def _open_root(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
    doc = _json(body, MAX_ROOT)
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), dict):
        return None
    ver = doc["version"]
    number = _text(ver.get("number"))
    tagline = _text(doc.get("tagline"))
    said = _text(ver.get("distribution"))
    if number is None or not _VERSION.fullmatch(number):
        return None
    if said:
        distribution: str | None = said.lower()
    elif tagline and tagline.startswith(_ES_TAGLINE):
        distribution = "elasticsearch"
    elif tagline and tagline.startswith(_OS_TAGLINE):
        distribution = "opensearch"
    elif (headers.get("x-elastic-product") or "").lower() == "elasticsearch":
        distribution = "elasticsearch"
    elif "cluster_uuid" in doc and "lucene_version" in ver:
        distribution = None  # answers like one, does not say which
    else:
        return None
    section: dict[str, Any] = {"auth_required": False, "version": number}
    if distribution:
        section["distribution"] = distribution
    for key, value in (("node_name", doc.get("name")),
                       ("cluster_name", doc.get("cluster_name")),
                       ("cluster_uuid", doc.get("cluster_uuid")),
                       ("build_flavor", ver.get("build_flavor")),
                       ("build_type", ver.get("build_type")),
                       ("lucene_version", ver.get("lucene_version")),
                       ("tagline", tagline)):
        text = _text(value)
        if text is not None:
            section[key] = text
    return section


def _guarded_root(status: int, headers: Mapping[str, str], body: bytes
                  ) -> dict[str, Any] | None:
    auth = headers.get("www-authenticate") or ""
    low = auth.lower()
    section: dict[str, Any] = {"auth_required": True, "status": status}
    if any(f'realm="{r}"' in low for r in _OS_REALMS):
        section["distribution"] = "opensearch"
    elif ('realm="security"' in low or status == 403) and (
            b'"security_exception"' in body[:MAX_ROOT]
            or (headers.get("x-elastic-product") or "").lower() == "elasticsearch"):
        # x-pack's reply: a JSON security_exception (401 without credentials, 403 when
        # an anonymous user may not read /)
        section["distribution"] = "elasticsearch"
    else:
        return None  # a proxy's Basic prompt is not a search engine
    realm = _realm(auth)
    if realm:
        section["realm"] = realm
    return section


def _realm(auth: str) -> str | None:
    low = auth.lower()
    at = low.find('realm="')
    if at < 0:
        return None
    start = at + len('realm="')
    end = auth.find('"', start)
    return _text(auth[start:end if end >= 0 else None])


def _items(body: bytes) -> tuple[list[Any], bool] | None:
    """The elements of a JSON array and whether it was whole; a body the size cap cut
    mid-list still gives the elements before the cut. None when it is not an array."""
    text = body.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        doc = None
    else:
        return (doc, True) if isinstance(doc, list) else None
    at = len(text) - len(text.lstrip())
    if text[at:at + 1] != "[":
        return None
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at += 1
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or text[at] == "]":
            return items, False
        try:
            item, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            return items, False
        items.append(item)


def indices_facts(status: int | None, body: bytes) -> dict[str, Any]:
    """What ``GET /_cat/indices`` told: ``indices`` (at most ``MAX_INDICES``),
    ``index_count``, ``docs_total``, ``health``; ``indices_truncated`` when the list was
    cut (by the size cap or by us); ``indices_status`` when it was refused."""
    if status != 200:
        return {"indices_status": status} if status else {}
    got = _items(body)
    if got is None:
        return {}
    rows, whole = got
    indices: list[dict[str, Any]] = []
    count = docs_total = 0
    worst = -1
    for row in rows:
        if not isinstance(row, dict):
            continue
        name = _text(row.get("index"))
        if name is None:
            continue
        count += 1
        docs = _number(row.get("docs.count"))
        docs_total += docs or 0
        health = row.get("health")
        if health in _HEALTH:
            worst = max(worst, _HEALTH.index(health))
        if len(indices) < MAX_INDICES:
            entry: dict[str, Any] = {"name": name, "docs": docs,
                                     "size": _number(row.get("store.size"))}
            if health in _HEALTH:
                entry["health"] = health
            if row.get("status") in ("open", "close"):
                entry["status"] = row["status"]
            indices.append(entry)
    out: dict[str, Any] = {"indices": indices, "index_count": count, "docs_total": docs_total}
    if whole and worst >= 0:
        out["health"] = _HEALTH[worst]  # a partial list cannot say the worst
    if not whole or count > len(indices):
        out["indices_truncated"] = True
    return out


def section(status: int | None, headers: Mapping[str, str], root_body: bytes,
            indices: tuple[int | None, bytes] | None) -> dict[str, Any] | None:
    """The whole ``elastic`` section: the root's facts, and the index list's when ``/``
    answered without credentials and the index request was made (``indices``)."""
    out = root_section(status, headers, root_body)
    if out is None:
        return None
    if out["auth_required"] is False and indices is not None:
        out.update(indices_facts(*indices))
    return out
