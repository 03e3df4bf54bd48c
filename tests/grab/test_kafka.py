"""Kafka grabber (grab/protocols/kafka.py) against a broker written here.

No Kafka broker is installable from Debian 12 or PyPI on this machine (it is a JVM
server), so ``Broker`` answers with bytes laid out as the Kafka protocol guide
(kafka.apache.org/protocol) and apache/kafka's message schemas
(clients/src/main/resources/common/message/ApiVersionsRequest.json,
ApiVersionsResponse.json, RequestHeader.json, MetadataResponse.json) say, for the
versions the grabber sends: response header v0 (correlation id); ApiVersions v3 body
(error code, compact array of [api key, min, max, tagged fields], throttle time, then
tagged fields 0 SupportedFeatures, 1 FinalizedFeaturesEpoch, 2 FinalizedFeatures,
3 ZkMigrationReady), and the v0 body (error code, [api key, min, max]) for v0 and for
UNSUPPORTED_VERSION, which Kafka always writes in v0 (RequestContext.apiVersion());
Metadata v1-v4 body (throttle v3+, brokers with rack v1+, cluster id v2+, controller
id v1+, topics with is_internal v1+ and partitions). Like a real broker it answers
INVALID_REQUEST to a v3 request whose client software name or version does not match
ApiVersionsRequest.java's pattern, hangs up on a size over socket.request.max.bytes
(100 MiB) and on an API key it does not know, and a SASL listener hangs up on anything
but ApiVersions before authentication (SaslServerAuthenticator: "Unexpected Kafka
request of type METADATA during SASL handshake"). The supported metadata.version of
each release is its latest production level in MetadataVersion.java (3.7: 19).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.cursor import Cursor, Truncated
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import kafka
from netatlas.model import Endpoint

from .conftest import serve

HOST = "127.20.250.92"
# A Kafka 3.7 broker's listener: keys 0-51 but 52-54 (raft, controller only), and
# DescribeCluster .. ListClientMetricsResources; Metadata v0-v12, Produce v0-v10.
# A KRaft broker's listener: no controller-to-broker keys (4-7: "zkBroker" only)
KEYS_3_7 = {k: (0, 4) for k in [*range(0, 52), 55, 57, 60, 61, 64, 65, 66, 67, 68, 69,
                                 71, 72, 74] if k not in (4, 5, 6, 7, 52, 53, 54)}
KEYS_3_7 |= {0: (0, 10), 3: (0, 12), 18: (0, 3)}
# Kafka 4.0 (KIP-896): old versions gone, Produce from v3, Metadata from v0
KEYS_4_0 = {**KEYS_3_7, 0: (3, 12), 1: (4, 17), 75: (0, 0), 80: (0, 0), 81: (0, 0)}


def s16(text: str | None) -> bytes:
    """Kafka STRING / NULLABLE_STRING: int16 length (-1 null), UTF-8 bytes."""
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


# KRaft brokers' supported and finalized features (BrokerFeatures.defaultSupportedFeatures):
# metadata.version from 1 (3.x; 7 on 4.x) to the release's latest production level
FEATURES_3_7 = {"metadata.version": (1, 19)}
FEATURES_4_1 = {"metadata.version": (7, 27), "kraft.version": (0, 1), "group.version": (0, 1)}
SOFTWARE = re.compile(rb"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


def uvarint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def compact(text: str) -> bytes:
    """COMPACT_STRING: unsigned varint length + 1, UTF-8 bytes."""
    raw = text.encode()
    return uvarint(len(raw) + 1) + raw


def tagged(fields: list[tuple[int, bytes]]) -> bytes:
    """A tagged-field section: count, then tag, size, bytes for each."""
    return uvarint(len(fields)) + b"".join(uvarint(t) + uvarint(len(b)) + b for t, b in fields)


def api_versions_v3(correlation: int, keys: dict[int, tuple[int, int]],
                    features: dict[str, tuple[int, int]] | None = None,
                    finalized: dict[str, int] | None = None, epoch: int | None = None,
                    zk_ready: bool | None = None, error: int = 0) -> bytes:
    body = struct.pack(">h", error) + uvarint(len(keys) + 1)
    body += b"".join(struct.pack(">hhh", k, lo, hi) + b"\x00"
                     for k, (lo, hi) in sorted(keys.items()))
    body += struct.pack(">i", 0)  # throttle_time_ms
    tags: list[tuple[int, bytes]] = []
    if features is not None:
        tags.append((0, uvarint(len(features) + 1) + b"".join(
            compact(n) + struct.pack(">hh", lo, hi) + b"\x00"
            for n, (lo, hi) in features.items())))
    if epoch is not None:
        tags.append((1, struct.pack(">q", epoch)))
    if finalized is not None:
        tags.append((2, uvarint(len(finalized) + 1) + b"".join(
            compact(n) + struct.pack(">hh", level, level) + b"\x00"  # max, then min
            for n, level in finalized.items())))
    if zk_ready is not None:
        tags.append((3, bytes([zk_ready])))
    return frame(correlation, body + tagged(tags))


def frame(correlation: int, body: bytes) -> bytes:
    """Size, response header v0 (correlation id), body."""
    return struct.pack(">ii", 4 + len(body), correlation) + body


def api_versions_v0(correlation: int, keys: dict[int, tuple[int, int]],
                    error: int = 0) -> bytes:
    body = struct.pack(">hi", error, len(keys))
    body += b"".join(struct.pack(">hhh", k, lo, hi) for k, (lo, hi) in sorted(keys.items()))
    return frame(correlation, body)


def metadata(correlation: int, version: int, topics: list[tuple[str, bool, int]],
             cluster: str | None = "MkU3OEVBNTcwNTJENDM2Qg",
             brokers: tuple[tuple[int, str, int, str | None], ...] = (
                 (1, "kafka-1.lab", 9092, "r1"), (2, "kafka-2.lab", 9092, None))) -> bytes:
    body = struct.pack(">i", 0) if version >= 3 else b""  # throttle_time_ms
    body += struct.pack(">i", len(brokers))
    for node, host, port, rack in brokers:
        body += struct.pack(">i", node) + s16(host) + struct.pack(">i", port)
        if version >= 1:
            body += s16(rack)
    if version >= 2:
        body += s16(cluster)
    if version >= 1:
        body += struct.pack(">i", 1)  # controller id
    body += struct.pack(">i", len(topics))
    for name, internal, partitions in topics:
        body += struct.pack(">h", 0) + s16(name)
        if version >= 1:
            body += bytes([internal])
        body += struct.pack(">i", partitions)
        for p in range(partitions):  # error, index, leader, replicas [1, 2], isr [1]
            body += struct.pack(">hiii", 0, p, 1, 2) + struct.pack(">ii", 1, 2)
            body += struct.pack(">ii", 1, 1)
    return frame(correlation, body)


TOPICS = [("orders", False, 3), ("payments", False, 1), ("__consumer_offsets", True, 2)]


class Broker:
    """One listener; ``sasl``: the listener requires SASL (SASL_PLAINTEXT). ``features``
    None: a ZooKeeper-mode broker (no features); ``kip511`` False: a broker before 2.4,
    whose UNSUPPORTED_VERSION lists no keys; ``v0_only``: a server that answers every
    ApiVersions in the v0 layout, whatever the version asked."""

    def __init__(self, keys: dict[int, tuple[int, int]] = KEYS_3_7, sasl: bool = False,
                 topics: list[tuple[str, bool, int]] = TOPICS,
                 features: dict[str, tuple[int, int]] | None = FEATURES_3_7,
                 kip511: bool = True, v0_only: bool = False) -> None:
        self.keys, self.sasl, self.topics = keys, sasl, topics
        self.features, self.kip511, self.v0_only = features, kip511, v0_only
        self.requests: list[tuple[int, int]] = []
        self.software: list[tuple[bytes, bytes]] = []

    def api_versions(self, version: int, correlation: int, req: bytes) -> bytes:
        top = self.keys[kafka.API_VERSIONS][1]
        if self.v0_only:
            return api_versions_v0(correlation, self.keys)
        if version > top:  # written in v0, with (2.4+) the range of ApiVersions itself
            listed = {kafka.API_VERSIONS: self.keys[kafka.API_VERSIONS]} if self.kip511 else {}
            return api_versions_v0(correlation, listed, error=kafka.UNSUPPORTED_VERSION)
        if version < 3:
            return api_versions_v0(correlation, self.keys)
        # header v2: client id (int16 length), tagged fields; body: two compact strings
        at = 10 + struct.unpack(">h", req[8:10])[0]
        assert req[at] == 0  # no header tagged fields
        name_len = req[at + 1] - 1
        name = req[at + 2:at + 2 + name_len]
        at += 2 + name_len
        release = req[at + 1:at + req[at]]
        self.software.append((name, release))
        if not (SOFTWARE.fullmatch(name) and SOFTWARE.fullmatch(release)):
            return api_versions_v3(correlation, {}, error=42)  # INVALID_REQUEST
        finalized = ({"metadata.version": self.features["metadata.version"][1]}
                     if self.features and "metadata.version" in self.features else None)
        return api_versions_v3(correlation, self.keys, self.features, finalized,
                               epoch=7 if finalized else None)

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            (size,) = struct.unpack(">i", await r.readexactly(4))
            if not 8 <= size <= 100 * 1024 * 1024:
                return  # InvalidReceiveException: the connection is closed
            req = await r.readexactly(size)
            key, version, correlation = struct.unpack(">hhi", req[:8])
            self.requests.append((key, version))
            if key not in self.keys:
                return  # unknown API key: InvalidRequestException, closed
            if key == kafka.API_VERSIONS:
                w.write(self.api_versions(version, correlation, req))
            elif key == kafka.API_METADATA and not self.sasl:
                w.write(metadata(correlation, version, self.topics))
            else:
                return
            await w.drain()


def test_requests_are_laid_out_per_the_guide() -> None:
    # size 33: header v2 = api key 18, version 3, correlation id, client id "netatlas"
    # (int16 length), no tagged fields; body: ClientSoftwareName and Version as compact
    # strings (length + 1), no tagged fields
    assert kafka.api_versions_request() == (
        b"\x00\x00\x00\x21\x00\x12\x00\x03\x00\x00\x6e\x61\x00\x08netatlas\x00"
        b"\x09netatlas\x040.1\x00")
    assert all(SOFTWARE.fullmatch(part) for part in kafka.CLIENT_SOFTWARE)
    # size 18: api key 18, version 0, its own correlation id, client id "netatlas"
    assert kafka.api_versions_request(0) == (
        b"\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x6e\x63\x00\x08netatlas")
    v4 = kafka.metadata_request(4)
    assert v4[4:8] == b"\x00\x03\x00\x04" and v4[-5:] == b"\xff\xff\xff\xff\x00"
    assert kafka.metadata_request(0)[-4:] == b"\x00\x00\x00\x00"  # v0: [] means all


# A KRaft 3.7 broker's ApiVersions v3 answer, three keys shown, byte by byte as
# ApiVersionsResponse.json lays out versions 3+ (response header v0, flexible body).
V3_REPLY_BODY = (
    b"\x00\x00\x6e\x61"  # correlation id
    b"\x00\x00"  # error code 0
    b"\x04"  # ApiKeys: compact array, 3 + 1
    b"\x00\x00\x00\x00\x00\x0a\x00"  # Produce 0-10, no tagged fields
    b"\x00\x03\x00\x00\x00\x0c\x00"  # Metadata 0-12
    b"\x00\x12\x00\x00\x00\x03\x00"  # ApiVersions 0-3
    b"\x00\x00\x00\x00"  # throttle_time_ms
    b"\x04"  # four tagged fields, ascending
    b"\x00\x17"  # tag 0 SupportedFeatures, 23 bytes:
    b"\x02\x11metadata.version\x00\x01\x00\x13\x00"  # [{name, min 1, max 19}]
    b"\x01\x08\x00\x00\x00\x00\x00\x00\x00\x2a"  # tag 1 FinalizedFeaturesEpoch 42
    b"\x02\x17"  # tag 2 FinalizedFeatures, 23 bytes:
    b"\x02\x11metadata.version\x00\x13\x00\x13\x00"  # [{name, max level 19, min 19}]
    b"\x03\x01\x00"  # tag 3 ZkMigrationReady false
)
V3_REPLY = struct.pack(">i", len(V3_REPLY_BODY)) + V3_REPLY_BODY


def test_parse_api_versions_v3() -> None:
    parsed = kafka.parse_api_versions(V3_REPLY, 3)
    assert parsed == {"error_code": 0, "api_keys": {0: [0, 10], 3: [0, 12], 18: [0, 3]},
                      "api_versions_version": 3,
                      "features": {"metadata.version": [1, 19]}, "finalized_epoch": 42,
                      "finalized": {"metadata.version": 19}, "zk_migration_ready": False}
    built = api_versions_v3(kafka.CORRELATION, {0: (0, 10), 3: (0, 12), 18: (0, 3)},
                            FEATURES_3_7, {"metadata.version": 19}, 42, False)
    assert built == V3_REPLY  # the test's encoder agrees with the layout spelled out
    # a ZooKeeper-mode broker: no features, no tagged fields
    zk = kafka.parse_api_versions(api_versions_v3(kafka.CORRELATION, KEYS_3_7), 3)
    assert zk["api_versions_version"] == 3 and "features" not in zk
    # an unknown epoch (-1): the finalized list is kept, the epoch is not
    unknown = kafka.parse_api_versions(
        api_versions_v3(kafka.CORRELATION, KEYS_3_7, FEATURES_3_7, {}, -1), 3)
    assert "finalized_epoch" not in unknown and "finalized" not in unknown
    # UNSUPPORTED_VERSION is written in v0, whatever was asked; before 2.4, without keys
    old = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, {}, error=35), 3)
    assert old == {"error_code": 35, "api_keys": {}, "api_versions_version": 0}
    # a server answering a v3 request in the v0 layout is read as v0
    v0 = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_3_7), 3)
    assert v0["api_versions_version"] == 0 and v0["api_keys"][3] == [0, 12]
    # v0 answers carry the v0 request's own correlation id
    again = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION + 2, KEYS_3_7), 0)
    assert again["api_keys"][18] == [0, 3]
    with pytest.raises(ProtocolError, match="correlation"):
        kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_3_7), 0)


@pytest.mark.parametrize(("top", "floor", "ceiling"), [
    (7, "3.3.0", "3.4.0"), (8, "3.4.0", "3.5.0"), (11, "3.5.0", "3.6.0"),
    (14, "3.6.0", "3.7.0"), (19, "3.7.0", "3.8.0"), (20, "3.8.0", "3.9.0"),
    (21, "3.9.0", "4.0.0"), (25, "4.0.0", "4.1.0"), (27, "4.1.0", "4.2.0"),
    (29, "4.2.0", "4.3.0"), (30, "4.3.0", None), (41, "4.3.0", None),
])
def test_the_top_metadata_version_names_the_release(top: int, floor: str,
                                                    ceiling: str | None) -> None:
    assert kafka.feature_range({"metadata.version": [1, top]}) == (floor, ceiling)


def test_features_narrow_the_range_the_keys_give() -> None:
    keys_3_5 = {k: list(v) for k, v in KEYS_3_7.items() if k < 68}  # 3.0-3.6 list these
    assert kafka.version_range(keys_3_5) == ("3.0.0", "3.7.0")
    assert kafka.version_range(keys_3_5, {"metadata.version": [1, 11]}) == ("3.5.0", "3.6.0")
    keys_4 = {k: list(v) for k, v in KEYS_4_0.items()}
    assert kafka.version_range(keys_4) == ("4.0.0", None)
    assert kafka.version_range(keys_4, {"metadata.version": [7, 27]}) == ("4.1.0", "4.2.0")
    # where the two disagree the broker's own feature range wins
    assert kafka.version_range(keys_3_5, {"metadata.version": [1, 20]}) == ("3.8.0", "3.9.0")
    # no metadata.version (a ZooKeeper-mode broker, Redpanda): the keys alone
    assert kafka.version_range(keys_3_5, {"kraft.version": [0, 1]}) == ("3.0.0", "3.7.0")
    assert kafka.feature_range({"metadata.version": [0, 0]}) is None


def test_a_zookeeper_mode_broker_is_below_4_0_and_lacks_kraft_only_keys() -> None:
    # 3.7-3.9 in ZooKeeper mode list LeaderAndIsr & co. but not DescribeTopicPartitions
    # (KRaft only): its absence must not read as "before 3.8"
    zk_3_9 = {**{k: list(v) for k, v in KEYS_3_7.items()}, 4: [0, 7], 5: [0, 4], 6: [0, 8],
              7: [0, 3]}
    assert kafka.version_range(zk_3_9) == ("3.7.0", "4.0.0")
    without_telemetry = {k: v for k, v in zk_3_9.items() if k != 71}
    assert kafka.version_range(without_telemetry) == ("3.0.0", "4.0.0")
    old_zk = {k: [0, 1] for k in range(0, 19)}  # 0.10.0, ZooKeeper mode as all were then
    assert kafka.version_range(old_zk) == ("0.10.0", "0.10.1")
    # a KRaft listener of the same keys: the missing key 75 is a ceiling
    assert kafka.version_range({k: list(v) for k, v in KEYS_3_7.items()}) == ("3.7.0", "3.8.0")


def test_parse_api_versions_and_version_range() -> None:
    parsed = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_3_7), 3)
    assert parsed["error_code"] == 0 and parsed["api_keys"][3] == [0, 12]
    assert kafka.version_range(parsed["api_keys"]) == ("3.7.0", "3.8.0")
    keys_4 = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_4_0), 3)
    assert kafka.version_range(keys_4["api_keys"]) == ("4.0.0", None)
    old = {k: [0, 1] for k in range(0, 19)}  # a 0.10.0 broker: up to ApiVersions
    assert kafka.version_range(old) == ("0.10.0", "0.10.1")
    assert kafka.metadata_version(parsed["api_keys"]) == 4
    assert kafka.metadata_version({3: [0, 1], 18: [0, 0]}) == 1
    assert kafka.metadata_version({3: [9, 12]}) is None
    assert kafka.metadata_version({}) == 0


def test_parse_metadata_every_version() -> None:
    for v in (0, 1, 2, 4):
        m = kafka.parse_metadata(metadata(kafka.CORRELATION + 1, v, TOPICS), v)
        assert m["brokers"][0] == {"node_id": 1, "host": "kafka-1.lab", "port": 9092,
                                   **({"rack": "r1"} if v else {})}
        assert m["topic_count"] == 3
        if v >= 1:
            assert m["topics"] == ["orders", "payments"]
            assert m["internal_topics"] == ["__consumer_offsets"]
        assert ("cluster_id" in m) == (v >= 2)


def test_a_metadata_frame_cut_at_the_cap_keeps_what_came_first() -> None:
    many = [(f"topic-{i:05d}", False, 1) for i in range(2000)]
    whole = metadata(kafka.CORRELATION + 1, 4, many)
    cut = whole[:16384]
    m = kafka.parse_metadata(cut, 4)
    assert m["truncated"] is True and len(m["topics"]) == kafka.MAX_TOPICS
    assert m["brokers"] and m["topic_count"] < 2000
    with pytest.raises(ProtocolError):
        kafka.parse_metadata(whole[:30], 4)  # not even the brokers


@pytest.mark.parametrize("bad", [
    b"",
    b"\x00\x00\x00",
    b"\x7f\xff\xff\xff" + b"\x00" * 20,  # a size of 2^31 - 1
    b"\x80\x00\x00\x00\x00\x00\x6e\x61",  # negative size
    b"HTTP/1.1 400 Bad Request\r\n\r\n",
    frame(1234, b"\x00\x00\x00\x00\x00\x00"),  # another correlation id
    frame(kafka.CORRELATION, b"\x00\x00\x7f\xff\xff\xff" + b"\x00" * 12),  # 2^31 keys
    frame(kafka.CORRELATION, b"\x00\x00\x00\x00\x00\x01\x00\x03\x00\x05\x00\x01"),  # min>max
    frame(kafka.CORRELATION, b"\x00\x00\x00\x00\x00\x00"),  # no keys, no error
    frame(kafka.CORRELATION, b"\x00\x00\x00\x00\x00\x02\x00\x03"),  # cut
])
def test_hostile_api_versions(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        kafka.parse_api_versions(bad, 3)


def _v3(rest: bytes, keys: bytes = b"\x02\x00\x12\x00\x00\x00\x03\x00") -> bytes:
    """A v3 body: error 0, ``keys`` (one: ApiVersions 0-3), throttle 0, then ``rest``."""
    return frame(kafka.CORRELATION, b"\x00\x00" + keys + b"\x00\x00\x00\x00" + rest)


@pytest.mark.parametrize("bad", [
    _v3(b"\x00", keys=b"\x00"),  # null ApiKeys
    _v3(b"\x00", keys=b"\xff\xff\xff\xff\xff\x01"),  # a varint of 6 bytes
    _v3(b"\x00", keys=b"\xca\x01"),  # 201 keys: over the cap
    _v3(b"\x00", keys=b"\x90\x01"),  # 143 keys announced, one there
    _v3(b"\x00\x00"),  # a byte after the body
    _v3(b"\x21" + b"\x00\x00" * 33),  # 33 tagged fields: over the cap
    _v3(b"\x02\x01\x00\x00\x00"),  # tags out of order (1 then 0)
    _v3(b"\x01\x00\xff\xff\xff\xff\x07"),  # a tag of 2^31 bytes
    _v3(b"\x01\x00\x05\x02"),  # a tag longer than what is left
])
def test_hostile_api_versions_v3(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        kafka.parse_api_versions(bad, 3)


@pytest.mark.parametrize("tag", [
    b"\x00\x08\x02\x02a\x00\x13\x00\x01\x00",  # SupportedFeatures: "a" 19-1
    b"\x00\x08\x02\xff\xff\x0f\x00\x00\x00\x00",  # a feature name said to be 256 KiB
    b"\x00\x03\xc8\x88\x01",  # 17,479 features: over the cap
    b"\x00\x02\x85\x07",  # 900 features in no bytes
    b"\x00\x07\x02\x02a\x00\x01\x00\x13",  # "a" 1-19, cut before its tagged fields
    b"\x01\x02\x00\x00",  # an epoch of 2 bytes
    b"\x02\x08\x02\x02a\xff\xff\x00\x00\x00",  # FinalizedFeatures: "a" at level -1
])
def test_hostile_features_keep_the_keys(tag: bytes) -> None:
    parsed = kafka.parse_api_versions(_v3(b"\x01" + tag), 3)
    assert parsed["api_keys"] == {18: [0, 3]} and parsed["features_error"]
    assert "features" not in parsed and "finalized" not in parsed


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_uvarint_round_trip(n: int) -> None:
    c = Cursor(uvarint(n) + b"x")
    assert c.uvarint() == n and c.left == 1
    with pytest.raises(ProtocolError):
        Cursor(uvarint(n + 1)).uvarint(limit=n)


def test_zk_migration_ready_and_unknown_tags() -> None:
    # tag 3 true (a KRaft controller ready for a ZooKeeper migration), tag 9 unknown
    parsed = kafka.parse_api_versions(_v3(b"\x02\x03\x01\x01\x09\x02\xab\xcd"), 3)
    assert parsed["zk_migration_ready"] is True and "features_error" not in parsed


def test_feature_names_are_filtered_and_counted() -> None:
    many = {f"f{i}": (0, 1) for i in range(40)} | {"metadata.version": (1, 19)}
    odd = {"$ref": (0, 1), "a b": (0, 1), "x" * 65: (0, 1), "kraft.version": (0, 1)}
    parsed = kafka.parse_api_versions(api_versions_v3(kafka.CORRELATION, KEYS_3_7, odd), 3)
    assert parsed["features"] == {"kraft.version": [0, 1]}
    capped = kafka.parse_api_versions(api_versions_v3(kafka.CORRELATION, KEYS_3_7, many), 3)
    assert len(capped["features"]) == kafka.MAX_FEATURES


def test_hostile_metadata_lengths() -> None:
    head = frame(kafka.CORRELATION + 1, struct.pack(">ii", 0, 1) + struct.pack(">i", 1)
                 + struct.pack(">h", 0x7FFF) + b"x")  # host length 32767, 1 byte there
    with pytest.raises(Truncated):
        kafka.parse_metadata(head, 4)
    huge = frame(kafka.CORRELATION + 1, struct.pack(">ii", 0, 0x7FFFFFFF))  # 2^31 brokers
    with pytest.raises(Truncated):
        kafka.parse_metadata(huge, 4)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([0, 1, 2, 4]))
def test_fuzz(data: bytes, version: int) -> None:
    for buf in (data, frame(kafka.CORRELATION, data), frame(kafka.CORRELATION + 1, data)):
        for asked in (0, 3):
            with contextlib.suppress(ProtocolError):
                kafka.parse_api_versions(buf, asked)
        with contextlib.suppress(ProtocolError):
            kafka.parse_metadata(buf, version)


async def test_live_open_broker_on_an_unusual_port(fast: GrabOptions) -> None:
    broker = Broker()
    async with serve(broker, HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.status == "success", res.error
    assert res.service == "kafka"
    k = res.sections["kafka"]
    assert k["auth_required"] is False and k["metadata_version"] == 4
    assert k["topics"] == ["orders", "payments"] and k["cluster_id"]
    assert [b["host"] for b in k["brokers"]] == ["kafka-1.lab", "kafka-2.lab"]
    assert (k["version_floor"], k["version_below"]) == ("3.7.0", "3.8.0")
    assert k["version_range"] == ">=3.7.0, <3.8.0"
    assert k["api_versions_version"] == 3 and k["features"] == {"metadata.version": [1, 19]}
    assert k["finalized"] == {"metadata.version": 19} and k["finalized_epoch"] == 7
    # (the other probes before it on an unusual port send what reads as junk keys)
    assert [r for r in broker.requests if r[0] in (kafka.API_VERSIONS, kafka.API_METADATA)
            ] == [(kafka.API_VERSIONS, 3), (kafka.API_METADATA, 4)]
    assert broker.software == [kafka.CLIENT_SOFTWARE]
    assert b"features: metadata.version 1-19 (finalized 19)" in res.data
    assert b"brokers: kafka-1.lab:9092 (node 1), kafka-2.lab:9092 (node 2)" in res.data
    assert b"topics (3): orders, payments" in res.data and res.responses["kafka-metadata"]


KEYS_3_0 = {k: v for k, v in KEYS_3_7.items() if k < 68}  # what 3.0-3.6 list
KEYS_2_1 = {k: v for k, v in KEYS_3_7.items() if k <= 42} | {18: (0, 2)}


@pytest.mark.parametrize(("broker", "release", "asked"), [
    # a KRaft 3.5 broker: its keys are those of 3.0-3.6, its metadata.version 3.5's
    (Broker(keys=KEYS_3_0, features={"metadata.version": (1, 11)}), ">=3.5.0, <3.6.0", [3]),
    # a KRaft 4.1 broker: the keys say 4.0 or later
    (Broker(keys=KEYS_4_0, features=FEATURES_4_1), ">=4.1.0, <4.2.0", [3]),
    # a ZooKeeper-mode broker names no features: the keys alone
    (Broker(keys=KEYS_3_0, features=None), ">=3.0.0, <3.7.0", [3]),
    # before 2.4: UNSUPPORTED_VERSION without keys, then v0 on the same connection
    (Broker(keys=KEYS_2_1, kip511=False), ">=1.1.0, <2.2.0", [3, 0]),
    # one that lists ApiVersions up to v2 in its refusal
    (Broker(keys=KEYS_2_1), ">=1.1.0, <2.2.0", [3, 0]),
    # a server that answers in the v0 layout whatever it is asked
    (Broker(v0_only=True), ">=3.7.0, <3.8.0", [3]),
], ids=["kraft-3.5", "kraft-4.1", "zk-3.x", "before-2.4", "kip-511-refusal", "v0-only"])
async def test_live_release_from_features_or_keys(fast: GrabOptions, broker: Broker,
                                                  release: str, asked: list[int]) -> None:
    async with serve(broker, HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.status == "success", res.error
    k = res.sections["kafka"]
    assert k["version_range"] == release and k["topics"] == ["orders", "payments"]
    assert [v for key, v in broker.requests if key == kafka.API_VERSIONS] == asked
    flexible = asked == [3] and not broker.v0_only
    assert k["api_versions_version"] == (3 if flexible else 0)
    assert ("features" in k) == bool(flexible and broker.features)
    assert ("kafka-apiversions-v0" in res.responses) == (asked == [3, 0])


async def test_live_sasl_listener_is_auth_required(fast: GrabOptions) -> None:
    async with serve(Broker(sasl=True), HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.service == "kafka", res.error
    k = res.sections["kafka"]
    assert k["auth_required"] is True and "brokers" not in k and "topics" not in k


async def test_live_hostile_brokers_are_cut_short(fast: GrabOptions) -> None:
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(64)
        w.write(struct.pack(">ii", 1 << 30, kafka.CORRELATION) + b"\x00\x00\x00\x00\x00\x01")
        while True:  # a frame that never ends
            w.write(b"\x00\x01\x00\x00\x00\x01" * 4096)
            await w.drain()

    async def big_metadata(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readexactly(len(kafka.api_versions_request()))
        w.write(api_versions_v0(kafka.CORRELATION, KEYS_3_7))
        await r.readexactly(27)
        w.write(struct.pack(">ii", 0x7FFFFFFF, kafka.CORRELATION + 1))  # 2 GiB frame
        while True:
            w.write(b"\x00" * 65536)
            await w.drain()

    loop = asyncio.get_running_loop()
    for handler in (endless, big_metadata):
        async with serve(handler, HOST) as port:
            started = loop.time()
            res = await kafka_grab(port, fast)
            assert loop.time() - started < fast.total_timeout + 2
        if handler is big_metadata:
            assert res.sections["kafka"]["metadata_error"]
            assert "brokers" not in res.sections["kafka"]


async def kafka_grab(port: int, opts: GrabOptions) -> object:
    from netatlas.grab.engine.context import GrabContext
    from netatlas.model import GrabResult

    ctx = GrabContext(Endpoint(HOST, port), opts, GrabResult())
    try:
        await kafka.probe(ctx)
    finally:
        ctx.abort_all()
    return ctx.result
