"""A release a protocol section names compares as ``version:`` does — ``elastic.version:>=7``,
``cassandra.release_version:<4.1``, ``zookeeper.version:[3.5 TO 3.8.1]`` — on every
store backend (SQLite calls versions.version_sort_key, PostgreSQL its SQL twin from
schema migration 6), while a bare value and a wildcard still match the text. A value
that is no version ("unknown", a JSON number) matches no comparison, as version: does.

Sections come from the grabbers' own parsers where those take bytes (elastic GET /,
ZooKeeper srvr, NATS INFO, X11 setup, MongoDB buildInfo; the bytes as in
tests/grab/test_<protocol>.py), else as the probes write them (cassandra._local,
kafka.probe, amqp.parse_start).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from netatlas.grab.protocols import mongodb, nats, x11, zookeeper
from netatlas.model import Observation
from netatlas.query import QuerySyntaxError
from netatlas.store import Store, open_store
from tests.grab.test_elastic import ES_401_BODY, ES_401_HEADERS, ES_INDICES, ES_ROOT, OS_ROOT
from tests.grab.test_x11 import success_reply
from tests.query.test_protocol_fields import _elastic
from tests.stores import BACKENDS, _new_store_url

SRVR = (b"Zookeeper version: %s, built on 2022-02-25 08:49 UTC\nReceived: 3\nSent: 2\n"
        b"Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n")


def _es(root: bytes) -> dict[str, Any]:
    return _elastic(200, [], root, ES_INDICES)


def _cassandra(release: object) -> dict[str, Any]:
    return {"protocol_version": 4, "cql_version": "3.4.6", "scylla": False,
            "auth_required": False, "cluster_name": "Test Cluster", "release_version": release,
            "data_center": "datacenter1"}


def _mongo(version: str) -> dict[str, Any]:
    return {"wire_protocol": "OP_MSG", **mongodb.hello_facts({"isWritablePrimary": True}),
            **mongodb.build_facts({"ok": 1.0, "version": version, "gitVersion": "3b3f4f6",
                                   "bits": 64, "maxBsonObjectSize": 16777216})}


# label -> (port, service, sections)
RECORDS: dict[str, tuple[int, str, dict[str, Any]]] = {
    "es-8.12.1": (9200, "http", {"elastic": _es(ES_ROOT)}),
    "es-7.17.3": (9201, "http", {"elastic": _es(ES_ROOT.replace(b'"8.12.1"', b'"7.17.3"'))}),
    "es-8.0.0-rc2": (9202, "http", {"elastic": _es(ES_ROOT.replace(b'"8.12.1"',
                                                                   b'"8.0.0-rc2"'))}),
    "os-2.11.1": (9203, "http", {"elastic": _es(OS_ROOT)}),
    # asked for credentials: no version seen
    "es-secured": (9204, "http", {"elastic": _elastic(401, ES_401_HEADERS, ES_401_BODY)}),
    "c-4.1.3": (9042, "cassandra", {"cassandra": _cassandra("4.1.3")}),
    "c-3.11.16": (9043, "cassandra", {"cassandra": _cassandra("3.11.16")}),
    "c-4.1-rc1": (9044, "cassandra", {"cassandra": _cassandra("4.1-rc1")}),
    "c-unknown": (9045, "cassandra", {"cassandra": _cassandra("unknown")}),
    "c-number": (9046, "cassandra", {"cassandra": _cassandra(4)}),  # not a JSON string
    "c-auth": (9047, "cassandra", {"cassandra": {"protocol_version": 5,
                                                 "auth_required": True}}),
    "zk-3.8.0": (2181, "zookeeper", {"zookeeper": zookeeper.parse_srvr(
        SRVR % b"3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f")}),
    "zk-3.4.14": (2182, "zookeeper", {"zookeeper": zookeeper.parse_srvr(
        SRVR % b"3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf")}),
    "nats-2.10.7": (4222, "nats", {"nats": nats.parse_info(
        b'INFO {"server_id":"NCXYZ","version":"2.10.7","proto":1}\r\n')}),
    "nats-2.9.0": (4223, "nats", {"nats": nats.parse_info(
        b'INFO {"server_id":"NCABC","version":"2.9.0","proto":1}\r\n')}),
    "mongo-7.0.2": (27017, "mongodb", {"mongodb": _mongo("7.0.2")}),
    "mongo-4.4.29": (27018, "mongodb", {"mongodb": _mongo("4.4.29")}),
    "x11-21.1.7": (6000, "x11", {"x11": x11.parse_setup_reply(success_reply())}),
    "x11-1.20.11": (6001, "x11", {"x11": x11.parse_setup_reply(
        success_reply(release=12011000))}),
    "kafka-3.7": (9092, "kafka", {"kafka": {"error_code": 0, "version_floor": "3.7.0",
                                            "version_range": ">=3.7.0, <3.8.0"}}),
    "kafka-4.0": (9093, "kafka", {"kafka": {"error_code": 0, "version_floor": "4.0.0",
                                            "version_range": ">=4.0.0"}}),
    "amqp-3.12.1": (5672, "amqp", {"amqp": {"product": "RabbitMQ", "version": "3.12.1",
                                            "mechanisms": ["PLAIN"]}}),
    "amqp-3.13-rc": (5673, "amqp", {"amqp": {"product": "RabbitMQ",
                                             "version": "3.13.0-rc.1",
                                             "mechanisms": ["PLAIN"]}}),
}

CASES: list[tuple[str, set[str]]] = [
    ("elastic.version:>=7", {"es-8.12.1", "es-7.17.3", "es-8.0.0-rc2"}),
    ("elastic.version:>=7.0.0", {"es-8.12.1", "es-7.17.3", "es-8.0.0-rc2"}),
    ("elastic.version:<8", {"es-7.17.3", "os-2.11.1", "es-8.0.0-rc2"}),  # rc2 < 8.0.0
    ("elastic.version:<8.0.0-rc3", {"es-7.17.3", "os-2.11.1", "es-8.0.0-rc2"}),
    ("elastic.version:<8.0.0rc2", {"es-7.17.3", "os-2.11.1"}),  # 8.0.0-rc2 = 8.0.0rc2
    ("elastic.version:>8.10", {"es-8.12.1"}),
    ("elastic.version:>8.9", {"es-8.12.1"}),  # 12 > 9 as numbers, not text
    ("elastic.version:[7.0 TO 8.0]", {"es-7.17.3", "es-8.0.0-rc2"}),
    ("elastic.version:[7.0 TO 8.12.1]", {"es-7.17.3", "es-8.0.0-rc2", "es-8.12.1"}),
    ("elastic.version:[8.0 TO *]", {"es-8.12.1"}),
    ("elastic.version:[* TO 7.17.3]", {"es-7.17.3", "os-2.11.1"}),
    # a value and a wildcard keep matching the text
    ("elastic.version:8.12.1", {"es-8.12.1"}),
    ("elastic.version:8.12.1.0", set()),  # equal as versions, not as text
    ("elastic.version:7.*", {"es-7.17.3"}),
    ("elastic.version:*rc*", {"es-8.0.0-rc2"}),
    ("elastic.version:>=7 elastic.distribution:elasticsearch",
     {"es-8.12.1", "es-7.17.3", "es-8.0.0-rc2"}),
    ("-elastic.version:>=7 service:http", {"os-2.11.1", "es-secured"}),
    ("elastic.version:<7 OR elastic.version:>8.10", {"os-2.11.1", "es-8.12.1"}),
    ("cassandra.release_version:<4.1", {"c-3.11.16", "c-4.1-rc1"}),
    ("cassandra.release_version:>=4.1", {"c-4.1.3"}),
    ("cassandra.release_version:>0", {"c-4.1.3", "c-3.11.16", "c-4.1-rc1"}),  # not junk
    ("cassandra.release_version:[3.11 TO 4.1]", {"c-3.11.16", "c-4.1-rc1"}),
    ("cassandra.release_version:4.1*", {"c-4.1.3", "c-4.1-rc1"}),
    ("cassandra.release_version:unknown", {"c-unknown"}),
    ("-cassandra.release_version:<4.1 service:cassandra",
     {"c-4.1.3", "c-unknown", "c-number", "c-auth"}),
    ("zookeeper.version:<3.5", {"zk-3.4.14"}),
    ("zookeeper.version:[3.5 TO 3.8.1]", {"zk-3.8.0"}),
    ("zookeeper.version:3.8.0*", {"zk-3.8.0"}),
    ("nats.version:<2.10", {"nats-2.9.0"}),
    ("nats.version:>=2.9", {"nats-2.9.0", "nats-2.10.7"}),
    ("mongodb.version:>=5", {"mongo-7.0.2"}),
    ("mongodb.version:<5.0", {"mongo-4.4.29"}),
    ("x11.version:<21.1.11", {"x11-21.1.7", "x11-1.20.11"}),
    ("x11.version:>=21", {"x11-21.1.7"}),
    ("kafka.version_floor:>=3.7", {"kafka-3.7", "kafka-4.0"}),
    ("kafka.version_floor:>=4", {"kafka-4.0"}),
    ("amqp.version:<3.13", {"amqp-3.12.1", "amqp-3.13-rc"}),  # a pre-release is below
    ("amqp.version:>=3.13.0-rc.1", {"amqp-3.13-rc"}),
    ("version:>=7", set()),  # the identified product's version: none identified here
]


@pytest.fixture(scope="module", params=BACKENDS)
def version_store(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url, drop = _new_store_url(request.param, request, tmp_path_factory.mktemp("vers"))
    store = open_store(url)
    when = datetime(2026, 12, 6, tzinfo=UTC)
    for port, service, sections in RECORDS.values():
        store.add(Observation(ip="127.20.3.2", port=port, transport="tcp", timestamp=when,
                              scan_id="v", service=service, sections=sections))
    store.flush()
    yield store
    store.close()
    drop()


def _labels(records: list[dict[str, Any]]) -> set[str]:
    by_port = {port: label for label, (port, *_rest) in RECORDS.items()}
    return {by_port[r["port"]] for r in records}


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
def test_query_returns_exactly(version_store: Store, query: str, expected: set[str]) -> None:
    assert _labels(version_store.search(query, limit=100)) == expected
    assert version_store.count(query) == len(expected)


@pytest.mark.parametrize("query", ["elastic.version:>abc", "cassandra.release_version:[x TO 4]",
                                   "nats.version:<=v"])
def test_a_bound_that_is_no_version_is_refused(version_store: Store, query: str) -> None:
    with pytest.raises(QuerySyntaxError, match="expected a version"):
        version_store.search(query)


def test_records_hold_what_the_fields_read() -> None:
    # the parsers gave the releases the fields read
    assert RECORDS["es-7.17.3"][2]["elastic"]["version"] == "7.17.3"
    assert RECORDS["zk-3.8.0"][2]["zookeeper"]["version"].startswith("3.8.0-")
    assert RECORDS["nats-2.9.0"][2]["nats"]["version"] == "2.9.0"
    assert RECORDS["mongo-7.0.2"][2]["mongodb"]["version"] == "7.0.2"
    assert RECORDS["x11-21.1.7"][2]["x11"]["version"] == "21.1.7"
    assert RECORDS["x11-1.20.11"][2]["x11"]["version"] == "1.20.11"
    assert "version" not in RECORDS["es-secured"][2]["elastic"]


def test_help_shows_the_comparison() -> None:
    from netatlas.query.help import help_text

    text = help_text()
    assert "elastic.version:>=7" in text and "cassandra.release_version:<4.1" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("elastic.version "))
    assert " version " in line
