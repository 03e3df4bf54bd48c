"""The data-store, messaging and camera sections are searchable and faceted — Kafka,
Cassandra, NATS, ZooKeeper, epmd, MQTT, AMQP, MongoDB, Elasticsearch / OpenSearch, RTSP,
ONVIF — on every store
backend (the conformance suite: one store of each, the same cases against both).

Sections come from the grabbers' own parsers where those take bytes (RTSP, NATS,
ZooKeeper, epmd, ONVIF, elastic; the bytes as in tests/grab/test_<protocol>.py), else as the
probes write them (kafka.probe, cassandra._startup / _local, mqtt.parse_connack,
amqp.parse_start, mongodb.hello_facts): a field whose path drifts from the grabber's
finds nothing here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from netatlas.grab.protocols import elastic, epmd, mongodb, nats, onvif, rtsp, spark, zookeeper
from netatlas.model import Observation
from netatlas.query import FIELDS
from netatlas.store import Store, open_store
from tests.grab.spark_bytes import AUTH as SPARK_AUTH
from tests.grab.spark_bytes import OPEN as SPARK_OPEN
from tests.grab.test_elastic import ES_401_BODY, ES_401_HEADERS, ES_INDICES, ES_ROOT, OS_ROOT
from tests.stores import BACKENDS, _new_store_url

_SECTION_FIELDS = {"cassandra.keyspace", "mqtt.broker_version", "mongodb.database",
                   "mongodb.auth_required"}

# (the facts Shodan's translated objects bring, and Redis's, are tests/query/
# test_section_fields.py's: SECTION_FIELDS)
NEW_FIELDS = [name for name in FIELDS if name.split(".")[0] in {
    "kafka", "cassandra", "nats", "zookeeper", "epmd", "mqtt", "amqp", "mongodb", "rtsp",
    "onvif", "elastic", "spark"} and name not in _SECTION_FIELDS]

ONVIF_MATCH = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
<env:Header><wsa:RelatesTo>uuid:x</wsa:RelatesTo></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsa:EndpointReference><wsa:Address>urn:uuid:3fa1fe68</wsa:Address></wsa:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/DS-2CD2143G2-I
 onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I
 onvif://www.onvif.org/location/city/hangzhou</d:Scopes>
<d:XAddrs>http://127.20.250.37/onvif/device_service</d:XAddrs>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""
SRVR = (b"Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on "
        b"2022-02-25 08:49 UTC\nReceived: 3\nSent: 2\nConnections: 1\nOutstanding: 0\n"
        b"Zxid: 0x0\nMode: %s\nNode count: 5\n")


def _rtsp(reply: bytes) -> dict[str, Any]:
    section = rtsp.parse_reply(reply)
    assert section is not None
    return section


def _elastic(status: int, headers: list[tuple[bytes, bytes]], root: bytes,
             indices: bytes | None = None) -> dict[str, Any]:
    heads: dict[str, str] = {}
    for k, v in headers:  # repeated headers joined, as HttpResponse.header_dict does
        key = k.decode().lower()
        heads[key] = f"{heads[key]}, {v.decode()}" if key in heads else v.decode()
    section = elastic.section(status, heads, root, None if indices is None else (200, indices))
    assert section is not None
    return section


# label -> (port, transport, service, sections)
RECORDS: dict[str, tuple[int, str, str, dict[str, Any]]] = {
    "kafka-open": (9092, "tcp", "kafka", {"kafka": {
        "error_code": 0, "api_keys": {"18": [0, 3]}, "version_floor": "3.7.0",
        "version_range": ">=3.7.0, <3.8.0", "version_below": "3.8.0", "metadata_version": 4,
        "brokers": [{"node_id": 1, "host": "kafka-1.lab", "port": 9092, "rack": "r1"},
                    {"node_id": 2, "host": "kafka-2.lab", "port": 9092}],
        "broker_count": 2, "cluster_id": "MkU3OEVBNTcwNTJENDM2Qg", "controller_id": 1,
        "topics": ["orders", "payments"], "internal_topics": ["__consumer_offsets"],
        "topic_count": 3, "auth_required": False}}),
    "kafka-sasl": (9093, "tcp", "kafka", {"kafka": {
        "error_code": 0, "api_keys": {"18": [0, 4]}, "version_floor": "4.0.0",
        "version_range": ">=4.0.0", "metadata_version": 4, "auth_required": True,
        "metadata_error": "connection closed on Metadata (SASL required)"}}),
    "cassandra-open": (9042, "tcp", "cassandra", {"cassandra": {
        "protocol_version": 4, "cql_version": "3.4.6", "scylla": False,
        "auth_required": False, "cluster_name": "Test Cluster", "release_version": "4.1.3",
        "data_center": "datacenter1"}}),
    "cassandra-auth": (9043, "tcp", "cassandra", {"cassandra": {
        "protocol_version": 5, "scylla": False, "auth_required": True,
        "authenticator": "org.apache.cassandra.auth.PasswordAuthenticator"}}),
    "nats-open": (4222, "tcp", "nats", {"nats": nats.parse_info(
        b'INFO {"server_id":"NCXYZ","server_name":"n1","version":"2.10.7","proto":1,'
        b'"cluster":"east","jetstream":true,"max_payload":1048576}\r\n')}),
    "nats-auth": (4223, "tcp", "nats", {"nats": nats.parse_info(
        b'INFO {"server_id":"NCABC","server_name":"n2","version":"2.9.0",'
        b'"auth_required":true}\r\n')}),
    "zk-open": (2181, "tcp", "zookeeper", {"zookeeper": {
        **zookeeper.parse_srvr(SRVR % b"standalone"), "session": True,
        "root_readable": True, "root_children": ["zookeeper", "kafka", "hbase"]}}),
    "zk-shut": (2182, "tcp", "zookeeper", {"zookeeper": {
        **zookeeper.parse_srvr(SRVR % b"follower"), "session": True,
        "root_readable": False, "error": -102}}),
    "epmd": (4369, "tcp", "epmd", {"epmd": epmd.parse_names(
        struct.pack(">I", 4369) + b"name rabbit at port 25672\nname ejabberd at port 36501\n")}),
    "mqtt-open": (1883, "tcp", "mqtt", {"mqtt": {
        "protocol_level": 4, "return_code": 0, "return_text": "accepted",
        "anonymous": True, "session_present": False, "broker_version": "mosquitto 2.0.11"}}),
    "mqtt-shut": (1884, "tcp", "mqtt", {"mqtt": {
        "protocol_level": 4, "return_code": 5, "return_text": "not authorized",
        "anonymous": False, "session_present": False}}),
    "amqp": (5672, "tcp", "amqp", {"amqp": {
        "version_major": 0, "version_minor": 9, "product": "RabbitMQ", "version": "3.12.1",
        "cluster_name": "rabbit@box", "mechanisms": ["PLAIN", "AMQPLAIN"],
        "locales": ["en_US"]}}),
    "amqp-anon": (5673, "tcp", "amqp", {"amqp": {
        "version_major": 0, "version_minor": 9, "product": "RabbitMQ",
        "cluster_name": "rabbit@edge", "mechanisms": ["ANONYMOUS", "PLAIN"]}}),
    "mongodb": (27017, "tcp", "mongodb", {"mongodb": {
        "wire_protocol": "OP_MSG", **mongodb.hello_facts(
            {"isWritablePrimary": True, "setName": "rs0", "maxWireVersion": 21,
             "minWireVersion": 0, "hosts": ["db-1.lab:27017", "db-2.lab:27017"]}),
        **mongodb.build_facts({"ok": 1.0, "version": "7.0.2", "gitVersion": "3b3f4f6"})}}),
    "rtsp-open": (8554, "tcp", "rtsp", {"rtsp": _rtsp(
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\n"
        b"Server: GStreamer RTSP server\r\nContent-Length: 52\r\n\r\n"
        b"v=0\r\ns=Session streamed with GStreamer\r\na=tool:GStreamer\r\n")}),
    "rtsp-guarded": (554, "tcp", "rtsp", {"rtsp": _rtsp(
        b'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm="IP Camera'
        b'(C3241)", nonce="b1e2"\r\nServer: Rtsp Server/3.0\r\n\r\n')}),
    "onvif": (3702, "udp", "onvif", {"onvif": onvif.parse_probe_matches(ONVIF_MATCH, "uuid:x")}),
    "es-open": (9200, "tcp", "http", {"elastic": _elastic(200, [], ES_ROOT, ES_INDICES)}),
    "os-open": (9201, "tcp", "http", {"elastic": _elastic(200, [], OS_ROOT, (
        b'[{"health":"green","status":"open","index":"logs-2024","docs.count":"5",'
        b'"store.size":"4096"}]'))}),
    "es-secured": (9202, "tcp", "http", {"elastic": _elastic(401, ES_401_HEADERS,
                                                             ES_401_BODY)}),
    "spark-open": (7077, "tcp", "spark", {"spark": spark.parse_failure(SPARK_OPEN)}),
    "spark-sasl": (7078, "tcp", "spark", {"spark": spark.parse_failure(SPARK_AUTH)}),
}
ALL = frozenset(RECORDS)

CASES: list[tuple[str, set[str]]] = [
    ("kafka.cluster_id:MkU3OEVBNTcwNTJENDM2Qg", {"kafka-open"}),
    ("kafka.cluster_id:mku3*", {"kafka-open"}),  # case-insensitive, as every string
    ("kafka.topic:orders", {"kafka-open"}),
    ("kafka.topic:__consumer_offsets", {"kafka-open"}),  # internal topics too
    ("kafka.topic:pay*", {"kafka-open"}),
    ("kafka.topic:nope", set()),
    ("kafka.broker:kafka-2.lab", {"kafka-open"}),
    ("kafka.broker:*.lab", {"kafka-open"}),
    ("kafka.auth_required:false", {"kafka-open"}),
    ("kafka.auth_required:true", {"kafka-sasl"}),
    ("-kafka.auth_required:true service:kafka", {"kafka-open"}),
    ('kafka.version_range:">=4.0.0"', {"kafka-sasl"}),
    ('kafka.version_range:">=3.7*"', {"kafka-open"}),
    ("kafka.version_floor:>=3.7.1", {"kafka-sasl"}),  # releases compare as versions
    ('cassandra.cluster_name:"test cluster"', {"cassandra-open"}),
    ("cassandra.release_version:4.1.3", {"cassandra-open"}),
    ("cassandra.release_version:4.*", {"cassandra-open"}),
    ("cassandra.release_version:<4.1.10", {"cassandra-open"}),  # 3 < 10, not as text
    ("cassandra.data_center:datacenter1", {"cassandra-open"}),
    ("cassandra.auth_required:false", {"cassandra-open"}),
    ("cassandra.auth_required:true", {"cassandra-auth"}),
    ("cassandra.authenticator:*PasswordAuthenticator", {"cassandra-auth"}),
    ("nats.auth_required:false", {"nats-open"}),
    ("nats.auth_required:true", {"nats-auth"}),
    ("nats.server_name:n1,n2", {"nats-open", "nats-auth"}),
    ("nats.cluster:east", {"nats-open"}),
    ("nats.version:<2.10", {"nats-auth"}),
    ("nats.jetstream:true", {"nats-open"}),
    ("nats.jetstream:false", set()),  # n2 never said: absent is not false
    ("zookeeper.mode:standalone", {"zk-open"}),
    ("zookeeper.mode:follower", {"zk-shut"}),
    ("zookeeper.version:[3.8 TO 3.8.1]", {"zk-open", "zk-shut"}),
    ("zookeeper.root_readable:true", {"zk-open"}),
    ("zookeeper.root_readable:false", {"zk-shut"}),
    ("zookeeper.znode:kafka", {"zk-open"}),
    ("epmd.node:rabbit", {"epmd"}),
    ("epmd.node:ejab*", {"epmd"}),
    ("epmd.node:25672", set()),  # the name, not the port
    ("mqtt.anonymous:true", {"mqtt-open"}),
    ("mqtt.anonymous:false", {"mqtt-shut"}),
    ("amqp.cluster_name:rabbit@box", {"amqp"}),
    ("amqp.mechanism:anonymous", {"amqp-anon"}),
    ("amqp.version:>=3.12", {"amqp"}),
    ("amqp.mechanism:PLAIN", {"amqp", "amqp-anon"}),
    ("mongodb.replica_set:rs0", {"mongodb"}),
    ("mongodb.version:7.0.2", {"mongodb"}),
    ('rtsp.server:"gstreamer rtsp server"', {"rtsp-open"}),
    ("rtsp.status:401", {"rtsp-guarded"}),
    ("rtsp.status:>=400", {"rtsp-guarded"}),
    ("rtsp.status:[200 TO 299]", {"rtsp-open"}),
    ("rtsp.auth_required:false", {"rtsp-open"}),
    ("rtsp.auth_required:true", {"rtsp-guarded"}),
    ('rtsp.realm:"IP Camera*"', {"rtsp-guarded"}),
    ('onvif.name:"HIKVISION DS-2CD2143G2-I"', {"onvif"}),
    ("onvif.hardware:ds-2cd2143g2-i", {"onvif"}),
    ("onvif.location:city/hangzhou", {"onvif"}),
    ("onvif.location:city/*", {"onvif"}),
    ("elastic.cluster_name:my_test_cluster", {"es-open"}),
    ("elastic.cluster_name:*cluster", {"es-open", "os-open"}),
    ("elastic.cluster_uuid:W0B8gPotTAajhMPbC9D4ww", {"os-open"}),
    ("elastic.node_name:opensearch-node1", {"os-open"}),
    ("elastic.version:8.12.1", {"es-open"}),
    ("elastic.version:2.*", {"os-open"}),
    ("elastic.version:>=7", {"es-open"}),
    ("elastic.version:[2.10 TO 8.0]", {"os-open"}),
    ("elastic.distribution:opensearch", {"os-open"}),
    ("elastic.distribution:elasticsearch", {"es-open", "es-secured"}),
    ("elastic.auth_required:false", {"es-open", "os-open"}),
    ("elastic.auth_required:true", {"es-secured"}),
    ("elastic.index:customers", {"es-open"}),
    ("elastic.index:.security*", {"es-open"}),  # system indices too
    ("elastic.index:logs*", {"os-open"}),
    ("elastic.index:nope", set()),
    ("elastic.index_count:3", {"es-open"}),
    ("elastic.index_count:>=1", {"es-open", "os-open"}),
    ("elastic.index_count:>3", set()),
    ("elastic.health:yellow", {"es-open"}),
    ("elastic.health:green", {"os-open"}),
    ("spark.auth_required:false", {"spark-open"}),
    ("spark.auth_required:true", {"spark-sasl"}),
    ("spark.error:java.io.EOFException", {"spark-open"}),
    ("spark.error:*SaslMessage*", {"spark-sasl"}),
    # with the rest of the language
    ("elastic.auth_required:false -elastic.index:customers", {"os-open"}),
    ("kafka.topic:orders OR cassandra.auth_required:false", {"kafka-open", "cassandra-open"}),
    ("rtsp.auth_required:false OR onvif.hardware:*", {"rtsp-open", "onvif"}),
    ("-zookeeper.znode:kafka service:zookeeper", {"zk-shut"}),
    ("transport:udp onvif.name:hik*", {"onvif"}),
]

FACETS: dict[str, dict[object, int]] = {
    "kafka.cluster_id": {"MkU3OEVBNTcwNTJENDM2Qg": 1},
    "kafka.topic": {"orders": 1, "payments": 1, "__consumer_offsets": 1},
    "kafka.broker": {"kafka-1.lab": 1, "kafka-2.lab": 1},
    "kafka.version_range": {">=3.7.0, <3.8.0": 1, ">=4.0.0": 1},
    "kafka.version_floor": {"3.7.0": 1, "4.0.0": 1},
    "cassandra.cluster_name": {"Test Cluster": 1},
    "cassandra.release_version": {"4.1.3": 1},
    "cassandra.data_center": {"datacenter1": 1},
    "cassandra.authenticator": {"org.apache.cassandra.auth.PasswordAuthenticator": 1},
    "nats.server_name": {"n1": 1, "n2": 1},
    "nats.cluster": {"east": 1},
    "nats.version": {"2.10.7": 1, "2.9.0": 1},
    "zookeeper.version": {"3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f": 2},
    "zookeeper.mode": {"standalone": 1, "follower": 1},
    "zookeeper.znode": {"zookeeper": 1, "kafka": 1, "hbase": 1},
    "epmd.node": {"rabbit": 1, "ejabberd": 1},
    "amqp.cluster_name": {"rabbit@box": 1, "rabbit@edge": 1},
    "amqp.mechanism": {"PLAIN": 2, "AMQPLAIN": 1, "ANONYMOUS": 1},
    "mongodb.replica_set": {"rs0": 1},
    "mongodb.version": {"7.0.2": 1},
    "amqp.version": {"3.12.1": 1},
    "rtsp.server": {"GStreamer RTSP server": 1, "Rtsp Server/3.0": 1},
    "rtsp.status": {200: 1, 401: 1},
    "rtsp.realm": {"IP Camera(C3241)": 1},
    "onvif.name": {"HIKVISION DS-2CD2143G2-I": 1},
    "onvif.hardware": {"DS-2CD2143G2-I": 1},
    "onvif.location": {"city/hangzhou": 1},
    "elastic.cluster_name": {"my_test_cluster": 1, "opensearch-cluster": 1},
    "elastic.node_name": {"instance-0000000000": 1, "opensearch-node1": 1},
    "elastic.version": {"8.12.1": 1, "2.11.1": 1},
    "elastic.distribution": {"elasticsearch": 2, "opensearch": 1},
    "elastic.index": {"customers": 1, ".security-7": 1, "old-logs": 1, "logs-2024": 1},
    "elastic.health": {"yellow": 1, "green": 1},
}


@pytest.fixture(scope="module", params=BACKENDS)
def protocol_store(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The records above on a store of each backend: its own (the session's store holds
    tests/query/conftest.py's data set, whose counts other tests pin)."""
    url, drop = _new_store_url(request.param, request, tmp_path_factory.mktemp("proto"))
    store = open_store(url)
    when = datetime(2026, 12, 6, tzinfo=UTC)
    for port, transport, service, sections in RECORDS.values():
        store.add(Observation(ip="127.20.3.1", port=port, transport=transport,  # type: ignore[arg-type]
                              timestamp=when, scan_id="p", service=service,
                              sections=sections))
    store.flush()
    yield store
    store.close()
    drop()


def _labels(records: list[dict[str, Any]]) -> set[str]:
    by_port = {port: label for label, (port, *_rest) in RECORDS.items()}
    return {by_port[r["port"]] for r in records}


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
def test_query_returns_exactly(protocol_store: Store, query: str, expected: set[str]) -> None:
    assert _labels(protocol_store.search(query, limit=100)) == expected
    assert protocol_store.count(query) == len(expected)


@pytest.mark.parametrize("name", list(FACETS))
def test_facet_values(protocol_store: Store, name: str) -> None:
    got = {f.value: f.count for f in protocol_store.facets("", [name], size=50)[name]}
    assert got == FACETS[name]


def test_every_new_field_is_searched_and_every_facet_counted() -> None:
    from netatlas.query import parse

    searched = {t.field for q, _ in CASES for t in _terms(parse(q).root)}
    assert set(NEW_FIELDS) - searched == set()
    assert {n for n in NEW_FIELDS if FIELDS[n].facetable} == set(FACETS)


def _terms(node: object) -> list[Any]:
    from netatlas.query.ast import And, Not, Or, Term

    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.child)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in _terms(c)]
    return []


def test_records_hold_what_the_fields_read() -> None:
    # the parsers gave the shapes the fields were written for
    assert RECORDS["rtsp-guarded"][3]["rtsp"]["realm"] == "IP Camera(C3241)"
    assert RECORDS["onvif"][3]["onvif"]["location"] == ["city/hangzhou"]
    assert RECORDS["epmd"][3]["epmd"]["nodes"][0] == {"name": "rabbit", "port": 25672}
    assert RECORDS["mongodb"][3]["mongodb"]["replica_set"] == "rs0"
    assert RECORDS["nats-open"][3]["nats"]["jetstream"] is True
    assert RECORDS["es-open"][3]["elastic"]["indices"][0]["name"] == "customers"
    assert RECORDS["es-secured"][3]["elastic"]["auth_required"] is True
