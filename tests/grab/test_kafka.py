"""Kafka grabber (grab/protocols/kafka.py) against a broker written here.

No Kafka broker is installable from Debian 12 or PyPI on this machine (it is a JVM
server), so ``Broker`` answers with bytes laid out as the Kafka protocol guide
(kafka.apache.org/protocol) and apache/kafka's message schemas
(clients/src/main/resources/common/message/ApiVersionsResponse.json,
MetadataResponse.json) say, for the versions the grabber sends: response header v0
(correlation id), ApiVersions v0 body (error code, [api key, min, max]), Metadata
v1-v4 body (throttle v3+, brokers with rack v1+, cluster id v2+, controller id v1+,
topics with is_internal v1+ and partitions). Like a real broker it hangs up on a
size over socket.request.max.bytes (100 MiB) and on an API key it does not know, and
a SASL listener hangs up on anything but ApiVersions before authentication
(SaslServerAuthenticator: "Unexpected Kafka request of type METADATA during SASL
handshake").
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.cursor import Truncated
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import kafka
from netatlas.model import Endpoint

from .conftest import serve

HOST = "127.20.250.92"
# A Kafka 3.7 broker's listener: keys 0-51 but 52-54 (raft, controller only), and
# DescribeCluster .. ListClientMetricsResources; Metadata v0-v12, Produce v0-v10.
KEYS_3_7 = {k: (0, 4) for k in [*range(0, 52), 55, 57, 60, 61, 64, 65, 66, 67, 68, 69,
                                 71, 72, 74] if k not in (52, 53, 54)}
KEYS_3_7 |= {0: (0, 10), 3: (0, 12), 18: (0, 3)}
# Kafka 4.0 (KIP-896): old versions gone, Produce from v3, Metadata from v0
KEYS_4_0 = {**KEYS_3_7, 0: (3, 12), 1: (4, 17), 75: (0, 0), 80: (0, 0), 81: (0, 0)}


def s16(text: str | None) -> bytes:
    """Kafka STRING / NULLABLE_STRING: int16 length (-1 null), UTF-8 bytes."""
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


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
    """One listener; ``sasl``: the listener requires SASL (SASL_PLAINTEXT)."""

    def __init__(self, keys: dict[int, tuple[int, int]] = KEYS_3_7, sasl: bool = False,
                 topics: list[tuple[str, bool, int]] = TOPICS) -> None:
        self.keys, self.sasl, self.topics = keys, sasl, topics
        self.requests: list[tuple[int, int]] = []

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
                w.write(api_versions_v0(correlation, self.keys))
            elif key == kafka.API_METADATA and not self.sasl:
                w.write(metadata(correlation, version, self.topics))
            else:
                return
            await w.drain()


def test_requests_are_laid_out_per_the_guide() -> None:
    # size 18: api key 18, version 0, correlation id, client id "netatlas"
    assert kafka.api_versions_request() == (
        b"\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x6e\x61\x00\x08netatlas")
    v4 = kafka.metadata_request(4)
    assert v4[4:8] == b"\x00\x03\x00\x04" and v4[-5:] == b"\xff\xff\xff\xff\x00"
    assert kafka.metadata_request(0)[-4:] == b"\x00\x00\x00\x00"  # v0: [] means all


def test_parse_api_versions_and_version_range() -> None:
    parsed = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_3_7))
    assert parsed["error_code"] == 0 and parsed["api_keys"][3] == [0, 12]
    assert kafka.version_range(parsed["api_keys"]) == ("3.7.0", "3.8.0")
    keys_4 = kafka.parse_api_versions(api_versions_v0(kafka.CORRELATION, KEYS_4_0))
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
        kafka.parse_api_versions(bad)


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
        with contextlib.suppress(ProtocolError):
            kafka.parse_api_versions(buf)
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
    assert (kafka.API_METADATA, 4) in broker.requests
    assert b"brokers: kafka-1.lab:9092 (node 1), kafka-2.lab:9092 (node 2)" in res.data
    assert b"topics (3): orders, payments" in res.data and res.responses["kafka-metadata"]


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
        await r.readexactly(22)
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
