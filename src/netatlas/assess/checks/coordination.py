"""Messaging and coordination services that let anyone in: a NATS server that asks no
credentials, a ZooKeeper whose tree an anonymous session reads, an epmd telling which
Erlang nodes run where, a Kafka broker describing its cluster to a client that never
authenticated. Each from what the server itself answered a normal client."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, quote, sec


def nats_no_auth(obs: Observation) -> str | None:
    """NATS's INFO tells every client whether it must authenticate; without
    ``auth_required`` any client may CONNECT, subscribe to ``>`` and publish."""
    n = sec(obs, "nats")
    if not n.get("server_id") or n.get("auth_required") is not False:
        return None
    version = f" {quote(n['version'])}" if n.get("version") else ""
    tls = ", TLS not required" if not n.get("tls_required") else ""
    return f"INFO from NATS{version} says auth_required false{tls}"


def zookeeper_no_auth(obs: Observation) -> str | None:
    """An anonymous session listed the root znode (what ``zkCli ls /`` does)."""
    z = sec(obs, "zookeeper")
    if z.get("root_readable") is not True:
        return None
    children = z.get("root_children") or []
    shown = quote(", ".join(str(c) for c in children[:5]), 60) if children else "none"
    return (f"anonymous session read the tree: getChildren('/') answered "
            f"{len(children)} child(ren) ({shown})")


def epmd_exposed(obs: Observation) -> str | None:
    """epmd answers NAMES to anyone; it lists the Erlang nodes and their distribution
    ports, guarded only by the shared cookie."""
    e = sec(obs, "epmd")
    if not isinstance(e.get("port"), int):
        return None
    nodes = [n for n in e.get("nodes") or [] if isinstance(n, dict)]
    listed = ", ".join(f"{n.get('name')}:{n.get('port')}" for n in nodes[:5])
    return (f"NAMES answered without authentication: {len(nodes)} Erlang node(s)"
            + (f" ({quote(listed, 60)})" if listed else ""))


def kafka_no_auth(obs: Observation) -> str | None:
    """Metadata answered before any SASL exchange: the listener is PLAINTEXT (or SSL
    without client certificates), so any client may also produce and consume."""
    k = sec(obs, "kafka")
    brokers = [b for b in k.get("brokers") or [] if isinstance(b, dict)]
    if k.get("auth_required") is not False or not brokers:
        return None
    topics = [str(t) for t in k.get("topics") or []]
    count = k.get("topic_count", len(topics))
    shown = f" ({quote(', '.join(topics[:5]), 60)})" if topics else ""
    first = f"{brokers[0].get('host')}:{brokers[0].get('port')}"
    return (f"Metadata answered without SASL: {len(brokers)} broker(s) ({quote(first, 40)}), "
            f"{count} topic(s){shown}")


CHECKS: tuple[Check, ...] = (
    Check("nats-no-auth", "high", "NATS server accepts clients without authentication",
          nats_no_auth),
    Check("zookeeper-no-auth", "high", "ZooKeeper tree readable without authentication",
          zookeeper_no_auth),
    Check("epmd-exposed", "medium", "Erlang port mapper lists nodes to anyone", epmd_exposed),
    Check("kafka-no-auth", "high", "Kafka broker describes its cluster without authentication",
          kafka_no_auth),
)
