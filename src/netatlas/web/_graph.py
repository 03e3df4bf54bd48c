"""The relation graph: hosts linked by what they share.

A bipartite graph: host nodes, and one node per shared artefact (a TLS certificate, a
favicon hash, an SSH host key, an HTML body hash, a JARM fingerprint) linked to every
host that presented it. Built from the store's records for a query, capped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netatlas.web._query import term
from netatlas.web._records import get_path

MAX_RECORDS = 5000
MAX_NODES = 1500


@dataclass(frozen=True, slots=True)
class Relation:
    kind: str
    label: str
    paths: tuple[str, ...]  # record paths, first present wins
    field: str | None  # search field that finds the same value (None: not searchable)


RELATIONS = (
    Relation("cert", "TLS certificate", ("ssl.cert.fingerprint.sha256",),
             "ssl.cert.fingerprint.sha256"),
    Relation("favicon", "Favicon hash", ("http.favicon.hash",), "http.favicon.hash"),
    Relation("sshkey", "SSH host key", ("ssh.fingerprint",), "ssh.fingerprint"),
    Relation("html", "HTML body hash", ("http.html_hash",), "http.html_hash"),
    Relation("jarm", "JARM", ("ssl.jarm",), None),
)
BY_KIND = {r.kind: r for r in RELATIONS}
CATEGORIES = ["host", *(r.kind for r in RELATIONS)]


def artefacts(record: dict[str, Any]) -> list[tuple[Relation, Any]]:
    out = []
    for rel in RELATIONS:
        for path in rel.paths:
            value = get_path(record, path)
            if value not in (None, "", 0):
                out.append((rel, value))
                break
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 16 else text[:12] + "…"


def build(records: Iterable[dict[str, Any]], min_hosts: int = 2) -> dict[str, Any]:
    """Graph JSON for ECharts: {nodes, links, categories, stats}. Only artefacts seen on
    at least ``min_hosts`` hosts are kept, and only hosts linked to one of them."""
    hosts: dict[str, dict[str, Any]] = {}
    shared: dict[tuple[str, str], set[str]] = {}
    values: dict[tuple[str, str], Any] = {}
    seen = 0
    truncated = False
    for rec in records:
        if seen >= MAX_RECORDS:
            truncated = True
            break
        seen += 1
        ip = str(rec.get("ip_str", ""))
        h = hosts.setdefault(ip, {"services": []})
        h["services"].append({
            "port": rec.get("port"),
            "transport": rec.get("transport", "tcp"),
            "service": rec.get("service"),
            "product": " ".join(str(p) for p in (rec.get("product"), rec.get("version")) if p),
        })
        for rel, value in artefacts(rec):
            key = (rel.kind, str(value))
            shared.setdefault(key, set()).add(ip)
            values[key] = value

    nodes: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    linked: set[str] = set()
    for (kind, text), ips in sorted(shared.items(), key=lambda kv: -len(kv[1])):
        if len(ips) < min_hosts:
            continue
        if len(nodes) + len(linked) >= MAX_NODES:
            truncated = True
            break
        rel = BY_KIND[kind]
        node_id = f"{kind}:{text}"
        nodes.append({
            "id": node_id,
            "name": _short(text),
            "category": CATEGORIES.index(kind),
            "kind": kind,
            "kind_label": rel.label,
            "value": text,
            "hosts": len(ips),
            "query": term(rel.field, values[(kind, text)]) if rel.field else None,
            "symbolSize": min(12 + 4 * len(ips), 48),
        })
        for ip in sorted(ips):
            links.append({"source": f"host:{ip}", "target": node_id})
            linked.add(ip)
    for ip in sorted(linked):
        svc = sorted(hosts[ip]["services"], key=lambda s: (s["port"] or 0))
        nodes.append({
            "id": f"host:{ip}",
            "name": ip,
            "category": 0,
            "kind": "host",
            "kind_label": "Host",
            "value": ip,
            "services": svc[:50],
            "query": term("ip", ip),
            "symbolSize": 18,
        })
    return {
        "nodes": nodes,
        "links": links,
        "categories": [{"name": "Host"}, *({"name": r.label} for r in RELATIONS)],
        "stats": {
            "records": seen,
            "hosts": len(hosts),
            "linked_hosts": len(linked),
            "artefacts": len(nodes) - len(linked),
            "truncated": truncated,
        },
    }


def host_queries(records: Iterable[dict[str, Any]]) -> list[str]:
    """Queries that find every host sharing an artefact with these records (expansion)."""
    out: list[str] = []
    for rec in records:
        for rel, value in artefacts(rec):
            if rel.field is None:
                continue
            q = term(rel.field, value)
            if q not in out:
                out.append(q)
    return out
