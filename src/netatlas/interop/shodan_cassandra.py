"""Shodan's ``cassandra`` banner property <-> netatlas's ``cassandra`` section.

Shodan's shape: ``name`` (the cluster's), ``keyspaces`` (list of names), ``partitioner``
and ``snitch``, read over Cassandra's Thrift client port (9160): the Datapedia's
``cassandra`` property, as typed field by field, with its availability note ("Cassandra
database services that allow connections to the client Thrift port"), by the Go
client github.com/shadowscatcher/shodan, models/services/cassandra.go and
models/service.go. Thrift's ``describe_keyspaces`` calls ``validateLogin()`` before
answering (Apache Cassandra's thrift/CassandraServer.java), so a banner that lists
keyspaces came from a node that let a client in without credentials: imported, it is
``auth_required: false`` (cassandra-no-auth), marked ``thrift: true`` so the finding
says how it was learnt.

netatlas's section (grab/protocols/cassandra.py) speaks CQL on 9042 instead: SUPPORTED
options, STARTUP's READY or AUTHENTICATE, and system.local's ``cluster_name``,
``release_version``, ``data_center``. The cluster name is the one fact both name;
everything else netatlas knows has no Shodan key, so an export writes it beside
Shodan's keys under netatlas's names (Shodan's readers skip keys they do not know)
and an import reads it back: export then import gives the same section.
"""

from __future__ import annotations

from typing import Any

from netatlas.grab.protocols.cassandra import MAX_OPTIONS, MAX_VALUES

from ._shodan_values import Check, count, flag, mapping, own, put, text, texts

SHODAN_KEYS = ("name", "keyspaces", "partitioner", "snitch")


def _supported(v: Any) -> dict[str, list[str]] | None:
    if not isinstance(v, dict):
        return None
    out: dict[str, list[str]] = {}
    for key, values in list(v.items())[:MAX_OPTIONS]:
        if (k := text(key)) and (vs := texts(values, MAX_VALUES)) is not None:
            out[k] = vs
    return out


def _error(v: Any) -> dict[str, Any] | None:
    e = mapping(v)
    code, message = count(e.get("code")), e.get("message")
    if code is None or not isinstance(message, str):
        return None
    return {"code": code, "message": message[:200]}


# netatlas's own keys (the grabber's), each with the check its value must pass
OWN: dict[str, Check] = {
    "protocol_version": count, "cql_version": text, "supported": _supported,
    "protocol_versions": texts, "scylla": flag, "scylla_shards": text,
    "auth_required": flag, "authenticator": text, "release_version": text,
    "data_center": text, "error": _error, "startup_error": text, "query_error": text,
    "thrift": flag,
}
_CQL_FACTS = ("protocol_version", "cql_version", "auth_required", "error")


def from_shodan(value: dict[str, Any], banner: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name := text(value.get("name")):
        out["cluster_name"] = name
    keyspaces = texts(value.get("keyspaces"))
    if keyspaces is not None:
        out["keyspaces"] = keyspaces
    for key in ("partitioner", "snitch"):
        if got := text(value.get(key)):
            out[key] = got
    facts = own(value, OWN)
    if not any(k in facts for k in _CQL_FACTS) and any(k in value for k in SHODAN_KEYS):
        facts["thrift"] = True  # Shodan's own object: learnt over Thrift
        if keyspaces is not None:
            facts["auth_required"] = False  # describe_keyspaces needs a login first
    out.update(facts)
    return out


def to_shodan(section: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name := text(section.get("cluster_name")):
        out["name"] = name
    if (keyspaces := texts(section.get("keyspaces"))) is not None:
        out["keyspaces"] = keyspaces
    for key in ("partitioner", "snitch"):
        if got := text(section.get(key)):
            out[key] = got
    put(out, section, OWN)
    return out
