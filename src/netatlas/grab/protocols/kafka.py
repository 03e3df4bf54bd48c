"""Kafka grabber: what a client sends first on connecting, ApiVersions (v0), then
Metadata for all topics, on one connection. Read-only: no topic is created
(``allow_auto_topic_creation`` false), nothing is produced or fetched.

Byte layouts: the Kafka protocol guide (kafka.apache.org/protocol) and the message
schemas in apache/kafka ``clients/src/main/resources/common/message/``
(ApiVersionsRequest/Response.json, MetadataRequest/Response.json). Requests use
request header v1 (api key, api version, correlation id, client id); the responses
read here (ApiVersions v0, Metadata v0-v4) use response header v0 and no tagged
fields. A SASL-only listener answers ApiVersions (it is part of the SASL handshake)
and hangs up on Metadata: that is recorded as ``auth_required``.
"""

from __future__ import annotations

import ssl
import struct
from typing import Any

from ..codecs.cursor import Cursor, Truncated
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

API_METADATA, API_VERSIONS = 3, 18
CLIENT_ID = b"netatlas"
CORRELATION = 0x6E61  # ApiVersions; Metadata uses the next id
MAX_FRAME = 1 << 20  # a larger declared size is not an answer to ApiVersions
MAX_METADATA = 100 << 20  # socket.request.max.bytes; we read our cap of it, no more
MAX_API_KEYS = 200  # Kafka 4.x knows about 90
MAX_BROKERS = 50
MAX_TOPICS = 100  # names kept; the count goes on while the frame lasts
MAX_NAME = 200
METADATA_VERSIONS = (4, 2, 1, 0)  # the ones this module encodes and reads, best first
# The release that first put an API key on a broker's listener (KIP in brackets), to
# give the broker's version a floor, and an absent key a ceiling. Release notes of
# Apache Kafka; a broker built from another code base (Redpanda) lists a subset.
KEY_SINCE: tuple[tuple[int, str], ...] = (
    (18, "0.10.0"),  # ApiVersions (KIP-35)
    (19, "0.10.1"),  # CreateTopics (KIP-4)
    (22, "0.11.0"),  # InitProducerId: transactions (KIP-98)
    (36, "1.0.0"),  # SaslAuthenticate (KIP-152)
    (42, "1.1.0"),  # DeleteGroups (KIP-229)
    (43, "2.2.0"),  # ElectLeaders (KIP-183)
    (44, "2.3.0"),  # IncrementalAlterConfigs (KIP-339)
    (45, "2.4.0"),  # AlterPartitionReassignments (KIP-455)
    (48, "2.6.0"),  # DescribeClientQuotas (KIP-546)
    (50, "2.7.0"),  # DescribeUserScramCredentials (KIP-554)
    (60, "2.8.0"),  # DescribeCluster (KIP-700)
    (65, "3.0.0"),  # DescribeTransactions (KIP-664)
    (71, "3.7.0"),  # GetTelemetrySubscriptions (KIP-714)
    (75, "3.8.0"),  # DescribeTopicPartitions (KIP-966)
)
PRODUCE_MIN_4_0 = 3  # Kafka 4.0 dropped Produce v0-v2 (KIP-896)


def request(api_key: int, version: int, correlation: int, body: bytes = b"") -> bytes:
    """Size, then request header v1: api key, version, correlation id, client id."""
    header = struct.pack(">hhih", api_key, version, correlation, len(CLIENT_ID)) + CLIENT_ID
    return struct.pack(">i", len(header) + len(body)) + header + body


def api_versions_request() -> bytes:
    return request(API_VERSIONS, 0, CORRELATION)  # v0 has an empty body


def metadata_request(version: int) -> bytes:
    """All topics: v0 says so with an empty array, v1+ with a null one (-1); v4+ asks
    the broker not to create any topic it is asked about."""
    body = struct.pack(">i", 0 if version == 0 else -1)
    if version >= 4:
        body += b"\x00"  # allow_auto_topic_creation = false
    return request(API_METADATA, version, CORRELATION + 1, body)


def frame_size(buf: bytes, largest: int = MAX_FRAME) -> int | None:
    """The size prefix of a response, None when it cannot be one of ours."""
    if len(buf) < 4:
        return None
    (size,) = struct.unpack(">i", buf[:4])
    return size if 4 <= size <= largest else None


def frame_complete(buf: bytes, largest: int = MAX_FRAME) -> bool:
    """The whole frame is in, or its size says it is none of ours (stop reading)."""
    if len(buf) < 4:
        return False
    size = frame_size(buf, largest)
    return size is None or len(buf) >= 4 + size


def _string(c: Cursor, nullable: bool = False) -> str | None:
    n = c.i16()
    if n == -1 and nullable:
        return None
    if n < 0:
        raise ProtocolError(f"bad string length {n}")
    return c.take(n)[:MAX_NAME].decode("utf-8", "replace")


def _body(buf: bytes, correlation: int, largest: int = MAX_FRAME) -> Cursor:
    size = frame_size(buf, largest)
    if size is None:
        raise ProtocolError(f"not a Kafka response frame: {buf[:8].hex()}")
    c = Cursor(buf[: 4 + size], 4)
    if c.i32() != correlation:
        raise ProtocolError("correlation id does not match our request")
    return c


def parse_api_versions(buf: bytes) -> dict[str, Any]:
    """ApiVersions v0 response -> error code and ``{key: [min, max]}``. A broker that
    does not know v0 answers in v0 all the same (UNSUPPORTED_VERSION, its own range)."""
    c = _body(buf, CORRELATION)
    error = c.i16()
    n = c.count(6, MAX_API_KEYS)
    keys: dict[int, list[int]] = {}
    for _ in range(n):
        key, lo, hi = c.i16(), c.i16(), c.i16()
        if not 0 <= key < 1000 or not 0 <= lo <= hi or key in keys:
            raise ProtocolError(f"implausible API key entry {key}: {lo}-{hi}")
        keys[key] = [lo, hi]
    if error not in (0, 35) or (error == 0 and not keys):
        raise ProtocolError(f"ApiVersions error {error}")
    return {"error_code": error, "api_keys": keys}


def version_range(keys: dict[int, list[int]]) -> tuple[str | None, str | None]:
    """(floor, ceiling) of the Apache Kafka release the listed API keys fit: the
    newest key present gives the floor, the first absent newer one the ceiling."""
    floor = ceiling = None
    for key, release in KEY_SINCE:
        if key in keys:
            floor, ceiling = release, None
        elif ceiling is None and floor is not None:
            ceiling = release
    produce = keys.get(0)
    if produce and produce[0] >= PRODUCE_MIN_4_0:
        floor, ceiling = "4.0.0", None
    return floor, ceiling


def metadata_version(keys: dict[int, list[int]]) -> int | None:
    """The best Metadata version both we and the broker speak; v0 without ApiVersions."""
    span = keys.get(API_METADATA)
    if span is None:
        return 0 if not keys else None
    return next((v for v in METADATA_VERSIONS if span[0] <= v <= span[1]), None)


def parse_metadata(buf: bytes, version: int) -> dict[str, Any]:
    """Metadata v0-v4 response -> brokers, cluster and controller ids, topic names. A
    frame cut at our cap still gives what came before the cut (``truncated``)."""
    c = _body(buf, CORRELATION + 1, MAX_METADATA)
    out: dict[str, Any] = {"brokers": [], "topics": [], "topic_count": 0}
    try:
        _metadata(c, version, out)
    except Truncated:
        if not out["brokers"]:
            raise
        out["truncated"] = True
    return out


def _metadata(c: Cursor, version: int, out: dict[str, Any]) -> None:
    if version >= 3:
        c.i32()  # throttle_time_ms
    brokers = c.count(10, 100_000)
    for _ in range(brokers):
        node = c.i32()
        host = _string(c)
        port = c.i32()
        rack = _string(c, nullable=True) if version >= 1 else None
        if not 0 <= port < 65536:
            raise ProtocolError(f"broker port {port}")
        if len(out["brokers"]) < MAX_BROKERS:
            broker: dict[str, Any] = {"node_id": node, "host": host, "port": port}
            if rack:
                broker["rack"] = rack
            out["brokers"].append(broker)
    out["broker_count"] = brokers
    if version >= 2 and (cluster := _string(c, nullable=True)) is not None:
        out["cluster_id"] = cluster
    if version >= 1:
        out["controller_id"] = c.i32()
    n = c.i32()
    if n < 0:
        raise ProtocolError(f"topic count {n}")
    internal: list[str] = []
    for _ in range(n):
        error = c.i16()
        name = _string(c) or ""
        is_internal = bool(c.u8()) if version >= 1 else False
        for _ in range(c.count(18, 1_000_000)):  # partitions: skipped, bounded
            c.take(10)  # error code, partition index, leader id
            for _ in range(2):  # replica nodes, in-sync replica nodes
                c.take(4 * c.count(4, 100_000))
        out["topic_count"] += 1
        if error:
            continue  # a topic the broker would not describe: not listed
        if is_internal:
            internal.append(name)
        elif len(out["topics"]) < MAX_TOPICS:
            out["topics"].append(name)
    if internal:
        out["internal_topics"] = internal[:MAX_TOPICS]


def summary(section: dict[str, Any]) -> bytes:
    """A readable banner: what ApiVersions and Metadata said."""
    lines = [f"Kafka ApiVersions: {len(section.get('api_keys', {}))} API keys"
             + (f", release {section['version_range']}" if "version_range" in section else "")]
    brokers = section.get("brokers") or []
    if brokers:
        lines.append("brokers: " + ", ".join(f"{b['host']}:{b['port']} (node {b['node_id']})"
                                             for b in brokers[:10]))
    if section.get("cluster_id"):
        lines.append(f"cluster_id: {section['cluster_id']}")
    if "topic_count" in section:
        lines.append(f"topics ({section['topic_count']}): "
                     + ", ".join(section.get("topics", [])[:20]))
    if section.get("metadata_error"):
        lines.append(f"metadata: {section['metadata_error']}")
    return "\n".join(lines).encode("utf-8", "replace")


async def _read_frame(conn: Conn, timeout: float, cap: int,
                      largest: int = MAX_FRAME) -> bytes:
    return await conn.read_until_done(lambda b: frame_complete(b, largest), cap, timeout)


async def probe(ctx: GrabContext) -> str:
    try:
        conn = await ctx.open()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    t, cap = ctx.opts.read_timeout, ctx.opts.max_bytes
    try:
        await conn.write(api_versions_request(), t)
        reply = await _read_frame(conn, t, cap)
        try:
            section = parse_api_versions(reply)
        except ProtocolError:
            return Outcome.NEGATIVE
        ctx.result.service = "kafka"
        ctx.result.data = reply
        ctx.result.responses["kafka-apiversions"] = reply
        keys = section.pop("api_keys")
        section["api_keys"] = {str(k): v for k, v in sorted(keys.items())}
        floor, ceiling = version_range(keys)
        if floor:  # the release itself is never on the wire: a range, for identify
            section["version_floor"] = floor
            section["version_range"] = f">={floor}" + (f", <{ceiling}" if ceiling else "")
        if ceiling:
            section["version_below"] = ceiling
        ctx.result.sections["kafka"] = section
        await _metadata_step(ctx, conn, section, keys)
        ctx.result.data = summary(section)  # the raw frames stay in responses
        return Outcome.POSITIVE
    except TimeoutError:
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    finally:
        await conn.close()


async def _metadata_step(ctx: GrabContext, conn: Conn, section: dict[str, Any],
                         keys: dict[int, list[int]]) -> None:
    version = metadata_version(keys)
    if version is None:
        section["metadata_error"] = "no Metadata version we speak"
        return
    section["metadata_version"] = version
    t, cap = ctx.opts.read_timeout, ctx.opts.max_bytes
    try:
        await conn.write(metadata_request(version), t)
        reply = await _read_frame(conn, t, cap, MAX_METADATA)
    except TimeoutError:
        section["metadata_error"] = "no answer to Metadata"
        return
    except (ConnectionError, ssl.SSLError, OSError):
        reply = b""
    if not reply:
        # what a SASL listener does to any request but ApiVersions and SaslHandshake
        section["auth_required"] = True
        section["metadata_error"] = "connection closed on Metadata (SASL required)"
        return
    ctx.result.responses["kafka-metadata"] = reply
    try:
        section.update(parse_metadata(reply, version))
    except ProtocolError as e:
        section["metadata_error"] = str(e)[:200]
        return
    section["auth_required"] = False


# A broker hangs up at once on anything but a well-formed request of its own (a size
# over socket.request.max.bytes, an unknown API key): the probes before ours cost it a
# connection each, not a silence, so it is tried in order (a tarpit's two silences end
# the order before it: no extra wait there).
PROTOCOL = Protocol(name="kafka", ports=(9092,), probe=probe, unhinted="in-order")
