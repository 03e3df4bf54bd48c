"""Kafka grabber: what a client sends first on connecting, ApiVersions (v3), then
Metadata for all topics, on one connection. Read-only: no topic is created
(``allow_auto_topic_creation`` false), nothing is produced or fetched.

Byte layouts: the Kafka protocol guide (kafka.apache.org/protocol) and the message
schemas in apache/kafka ``clients/src/main/resources/common/message/``
(ApiVersionsRequest/Response.json, MetadataRequest/Response.json, RequestHeader.json).
Metadata uses request header v1 (api key, api version, correlation id, client id) and
its responses (v0-v4) response header v0 and no tagged fields.

ApiVersions v3 is the first flexible version (KIP-511, Kafka 2.4): request header v2
(v1 and an empty tagged-field section; the client id keeps its int16 length, so any
broker can read the header) and a body of two compact strings, the client's software
name and version. The response keeps header v0, but its body has compact arrays
(unsigned varint count + 1), per-entry tagged fields, the throttle time and then the
tagged fields that make it worth asking: SupportedFeatures (tag 0: {name: [min, max]}),
FinalizedFeaturesEpoch (1), FinalizedFeatures (2: {name: level}), ZkMigrationReady (3).
A KRaft broker's supported ``metadata.version`` (3.3 on) tops out at its release's own
level (MetadataVersion.java), which pins the minor release where the API keys alone give
a span: 3.0-3.6 list the same keys, so do 3.8 and 3.9, and so does every 4.x (a
ZooKeeper-mode broker names no features: its keys alone, as before). A broker before
2.4 answers UNSUPPORTED_VERSION in the v0 layout, and is asked again in v0 on the same
connection, as Kafka's own client does; a server that answers a v3 request in the v0
layout is read as such.

A SASL-only listener answers ApiVersions (it is part of the SASL handshake) and hangs
up on Metadata: that is recorded as ``auth_required``.
"""

from __future__ import annotations

import re
import ssl
import struct
from typing import Any

from ..codecs.cursor import Cursor, Truncated
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

API_METADATA, API_VERSIONS = 3, 18
API_VERSIONS_FLEXIBLE = 3  # the version asked first
UNSUPPORTED_VERSION = 35
CLIENT_ID = b"netatlas"
# ClientSoftwareName / Version: a broker answers INVALID_REQUEST unless both match
# [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? (ApiVersionsRequest.java)
CLIENT_SOFTWARE = (b"netatlas", b"0.1")
CORRELATION = 0x6E61  # ApiVersions; Metadata uses the next id, ApiVersions v0 again the one after
MAX_FRAME = 1 << 20  # a larger declared size is not an answer to ApiVersions
MAX_METADATA = 100 << 20  # socket.request.max.bytes; we read our cap of it, no more
MAX_API_KEYS = 200  # Kafka 4.x knows about 90
MAX_BROKERS = 50
MAX_TOPICS = 100  # names kept; the count goes on while the frame lasts
MAX_NAME = 200
METADATA_VERSIONS = (4, 2, 1, 0)  # the ones this module encodes and reads, best first
MAX_TAGS = 32  # tagged fields in one structure (Kafka defines 4 here)
MAX_FEATURES = 32  # Kafka 4.x has 7
_FEATURE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # metadata.version, kraft.version, ...
TAG_SUPPORTED, TAG_EPOCH, TAG_FINALIZED, TAG_ZK_MIGRATION = 0, 1, 2, 3
# metadata.version feature levels (KIP-778) by release: the first level each release
# introduced. A broker supports levels up to its release's latest production one, so the
# top of its supported range names its release. apache/kafka server-common
# MetadataVersion.java: levels 1-21 as the 3.0-3.9 release branches number them (3.3
# supports up to 7, 3.4 8, 3.5 11, 3.6 14, 3.7 19, 3.8 20, 3.9 21), 22-30 as the 4.x
# enum does (4.0-IV0..IV3 22-25, 4.1 26-27, 4.2 28-29, 4.3 30). A broker run with
# unstable.feature.versions.enable (tests only) reads as the next release.
METADATA_LEVEL_SINCE: tuple[tuple[int, str], ...] = (
    (1, "3.0.0"), (2, "3.1.0"), (3, "3.2.0"), (4, "3.3.0"), (8, "3.4.0"), (9, "3.5.0"),
    (12, "3.6.0"), (15, "3.7.0"), (20, "3.8.0"), (21, "3.9.0"), (22, "4.0.0"),
    (26, "4.1.0"), (28, "4.2.0"), (30, "4.3.0"),
)
METADATA_LEVEL_KNOWN = 30  # above it: a release after 4.3, not named here
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
# A ZooKeeper-mode broker lists the controller-to-broker APIs on its listener
# (LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown: "listeners":
# ["zkBroker"] in their message schemas); a KRaft broker never does. Kafka 4.0 dropped
# ZooKeeper mode (KIP-833): such a broker is older. Keys added for KRaft brokers
# (KIP-966's DescribeTopicPartitions; KIP-714's telemetry may be too) are absent from a
# ZooKeeper-mode broker of any release: their absence there is no ceiling.
ZK_ONLY_KEYS = frozenset({4, 5, 6, 7})
KRAFT_ONLY_KEYS = frozenset({71, 75})
ZK_MODE_BELOW = "4.0.0"


def request(api_key: int, version: int, correlation: int, body: bytes = b"",
            flexible: bool = False) -> bytes:
    """Size, then request header v1: api key, version, correlation id, client id (an
    int16-length string in every header version); v2 (``flexible``) adds an empty
    tagged-field section."""
    header = struct.pack(">hhih", api_key, version, correlation, len(CLIENT_ID)) + CLIENT_ID
    if flexible:
        header += b"\x00"  # no tagged fields
    return struct.pack(">i", len(header) + len(body)) + header + body


def _compact_string_bytes(raw: bytes) -> bytes:
    """COMPACT_STRING: unsigned varint length + 1 (our strings are short: one byte)."""
    assert len(raw) < 127
    return bytes([len(raw) + 1]) + raw


def api_versions_request(version: int = API_VERSIONS_FLEXIBLE) -> bytes:
    """v3: the client's software name and version, then no tagged fields; v0 has an
    empty body (and its own correlation id, so a late v3 answer is never read as it)."""
    if version < API_VERSIONS_FLEXIBLE:
        return request(API_VERSIONS, version, CORRELATION + 2)
    name, release = CLIENT_SOFTWARE
    body = _compact_string_bytes(name) + _compact_string_bytes(release) + b"\x00"
    return request(API_VERSIONS, version, CORRELATION, body, flexible=True)


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


def parse_api_versions(buf: bytes, version: int = 0) -> dict[str, Any]:
    """ApiVersions response to our request of ``version`` (0 or 3) -> error code,
    ``{key: [min, max]}`` and, from a v3 body, the features. UNSUPPORTED_VERSION comes in
    the v0 layout whatever was asked (RequestContext: "Use v0 when serializing an
    unhandled ApiVersion response"); so does the answer of a server that ignores the
    version asked, read as v0 when the v3 layout does not fit it."""
    if version < API_VERSIONS_FLEXIBLE:
        return _api_versions_v0(_body(buf, CORRELATION + 2))
    c = _body(buf, CORRELATION)
    start = c.pos
    if c.i16() == UNSUPPORTED_VERSION:
        c.pos = start
        return _api_versions_v0(c)
    c.pos = start
    try:
        return _api_versions_v3(c)
    except ProtocolError as flexible_error:
        c.pos = start
        try:
            return _api_versions_v0(c)
        except ProtocolError:
            raise flexible_error from None


def _check_error(error: int, keys: dict[int, list[int]]) -> None:
    if error not in (0, UNSUPPORTED_VERSION) or (error == 0 and not keys):
        raise ProtocolError(f"ApiVersions error {error}")


def _api_key(c: Cursor, keys: dict[int, list[int]]) -> None:
    key, lo, hi = c.i16(), c.i16(), c.i16()
    if not 0 <= key < 1000 or not 0 <= lo <= hi or key in keys:
        raise ProtocolError(f"implausible API key entry {key}: {lo}-{hi}")
    keys[key] = [lo, hi]


def _api_versions_v0(c: Cursor) -> dict[str, Any]:
    error = c.i16()
    keys: dict[int, list[int]] = {}
    for _ in range(c.count(6, MAX_API_KEYS)):
        _api_key(c, keys)
    _check_error(error, keys)
    return {"error_code": error, "api_keys": keys, "api_versions_version": 0}


def _compact_count(c: Cursor, each: int, limit: int) -> int:
    """COMPACT_ARRAY's length (varint N + 1; 0 is null), checked against what could
    follow it (each element takes at least ``each`` bytes) and ``limit``."""
    n = c.uvarint(limit + 1) - 1
    if n < 0:
        raise ProtocolError(f"null array at {c.pos}")
    if n * each > c.left:
        raise Truncated(f"compact array of {n} at {c.pos} does not fit")
    return n


def _compact_string(c: Cursor) -> str:
    n = c.uvarint(c.left + 1) - 1
    if n < 0:
        raise ProtocolError(f"null string at {c.pos}")
    return c.take(n)[:MAX_NAME].decode("utf-8", "replace")


def _tagged_fields(c: Cursor) -> dict[int, Cursor]:
    """A tagged-field section -> ``{tag: its bytes, as a Cursor}``: tags in strictly
    ascending order, as Kafka's reader demands, each within the bytes there are."""
    out: dict[int, Cursor] = {}
    last = -1
    for _ in range(c.uvarint(MAX_TAGS)):
        tag = c.uvarint()
        if tag <= last:
            raise ProtocolError(f"tagged field {tag} after {last}")
        last = tag
        out[tag] = Cursor(c.take(c.uvarint(c.left)))
    return out


def _api_versions_v3(c: Cursor) -> dict[str, Any]:
    """The flexible layout (ApiVersionsResponse.json, versions 3+): error code, ApiKeys
    (compact array of key, min, max, tagged fields), throttle time, tagged fields; the
    frame must end there."""
    error = c.i16()
    keys: dict[int, list[int]] = {}
    for _ in range(_compact_count(c, 7, MAX_API_KEYS)):
        _api_key(c, keys)
        _tagged_fields(c)  # none defined per key
    c.i32()  # throttle_time_ms
    tags = _tagged_fields(c)
    if c.left:
        raise ProtocolError(f"{c.left} bytes after the ApiVersions v3 body")
    _check_error(error, keys)
    out: dict[str, Any] = {"error_code": error, "api_keys": keys, "api_versions_version": 3}
    try:
        out.update(_features(tags))
    except ProtocolError as e:  # the keys stand; the features were unreadable
        out["features_error"] = str(e)[:200]
    return out


def _features(tags: dict[int, Cursor]) -> dict[str, Any]:
    """SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures, ZkMigrationReady;
    tags this module does not know are skipped."""
    out: dict[str, Any] = {}
    if (c := tags.get(TAG_SUPPORTED)) is not None:
        supported: dict[str, list[int]] = {}
        for name, lo, hi in _feature_list(c):
            if not 0 <= lo <= hi:
                raise ProtocolError(f"supported feature {name!r}: {lo}-{hi}")
            supported.setdefault(name, [lo, hi])
        out["features"] = supported
    if (c := tags.get(TAG_EPOCH)) is not None:
        epoch = c.i64()
        if epoch >= 0:  # -1: unknown, and the finalized list means nothing
            out["finalized_epoch"] = epoch
    if (c := tags.get(TAG_FINALIZED)) is not None:
        finalized: dict[str, int] = {}
        for name, top, _lo in _feature_list(c):  # max level first in this struct
            if top < 0:
                raise ProtocolError(f"finalized feature {name!r}: level {top}")
            finalized.setdefault(name, top)
        if finalized:
            out["finalized"] = finalized
    if (c := tags.get(TAG_ZK_MIGRATION)) is not None:
        out["zk_migration_ready"] = bool(c.u8())
    return out


def _feature_list(c: Cursor) -> list[tuple[str, int, int]]:
    """A compact array of (name, int16, int16, tagged fields), the names kept only when
    they look like feature names (they become keys of the record)."""
    out: list[tuple[str, int, int]] = []
    for _ in range(_compact_count(c, 6, 1000)):
        name, a, b = _compact_string(c), c.i16(), c.i16()
        _tagged_fields(c)
        if _FEATURE_NAME.fullmatch(name) and len(out) < MAX_FEATURES:
            out.append((name, a, b))
    return out


def version_range(keys: dict[int, list[int]], features: dict[str, list[int]] | None = None
                  ) -> tuple[str | None, str | None]:
    """(floor, ceiling) of the Apache Kafka release the listed API keys fit: the
    newest key present gives the floor, the first absent newer one the ceiling; then
    narrowed by the supported ``metadata.version`` when the broker names one (a KRaft
    broker), which wins where the two disagree."""
    floor = ceiling = None
    zk_mode = not ZK_ONLY_KEYS.isdisjoint(keys)
    for key, release in KEY_SINCE:
        if key in keys:
            floor, ceiling = release, None
        elif ceiling is None and floor is not None and not (zk_mode and key in KRAFT_ONLY_KEYS):
            ceiling = release
    if zk_mode and floor is not None and ceiling is None:
        ceiling = ZK_MODE_BELOW
    produce = keys.get(0)
    if produce and produce[0] >= PRODUCE_MIN_4_0:
        floor, ceiling = "4.0.0", None
    pinned = feature_range(features or {})
    if pinned is None:
        return floor, ceiling
    low = max(floor, pinned[0], key=_release) if floor else pinned[0]
    high = (min(ceiling, pinned[1], key=_release) if ceiling and pinned[1]
            else ceiling or pinned[1])
    if high is not None and _release(low) >= _release(high):
        return pinned
    return low, high


def feature_range(features: dict[str, list[int]]) -> tuple[str, str | None] | None:
    """(floor, ceiling) of the release whose latest ``metadata.version`` level is the
    top of the broker's supported range; None when it names none."""
    span = features.get("metadata.version")
    if not span or span[1] < METADATA_LEVEL_SINCE[0][0]:
        return None
    top = min(span[1], METADATA_LEVEL_KNOWN)
    floor, ceiling = METADATA_LEVEL_SINCE[0][1], None
    for level, release in METADATA_LEVEL_SINCE:
        if level <= top:
            floor, ceiling = release, None
        elif ceiling is None:
            ceiling = release
    return floor, ceiling


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


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
    if section.get("features"):
        finalized = section.get("finalized", {})
        lines.append("features: " + ", ".join(
            f"{name} {lo}-{hi}" + (f" (finalized {finalized[name]})" if name in finalized else "")
            for name, (lo, hi) in list(section["features"].items())[:10]))
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
            section = parse_api_versions(reply, API_VERSIONS_FLEXIBLE)
        except ProtocolError:
            return Outcome.NEGATIVE
        ctx.result.service = "kafka"
        ctx.result.data = reply
        ctx.result.responses["kafka-apiversions"] = reply
        if _needs_v0(section):
            section = await _api_versions_v0_again(ctx, conn, section)
        keys = section.pop("api_keys")
        section["api_keys"] = {str(k): v for k, v in sorted(keys.items())}
        floor, ceiling = version_range(keys, section.get("features"))
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


def _needs_v0(section: dict[str, Any]) -> bool:
    """UNSUPPORTED_VERSION without a v3 in the broker's own ApiVersions range: a broker
    before 2.4 (whose refusal lists no keys at all) or one that stops below v3."""
    span = section["api_keys"].get(API_VERSIONS)
    return (section["error_code"] == UNSUPPORTED_VERSION
            and (span is None or span[1] < API_VERSIONS_FLEXIBLE))


async def _api_versions_v0_again(ctx: GrabContext, conn: Conn,
                                 first: dict[str, Any]) -> dict[str, Any]:
    """Ask again in v0 on the same connection (the broker keeps it open after the
    refusal); the refusal stands when the second answer is no better."""
    t, cap = ctx.opts.read_timeout, ctx.opts.max_bytes
    try:
        await conn.write(api_versions_request(0), t)
        reply = await _read_frame(conn, t, cap)
        section = parse_api_versions(reply, 0)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError, ProtocolError):
        return first
    ctx.result.responses["kafka-apiversions-v0"] = reply
    return section


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
