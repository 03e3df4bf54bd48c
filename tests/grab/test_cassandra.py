"""Cassandra / ScyllaDB grabber (grab/protocols/cassandra.py) against a CQL server
written here.

No Cassandra or ScyllaDB server is installable from Debian 12 or PyPI on this
machine (JVM / C++ servers outside both), so ``CqlServer`` answers with bytes laid out
as apache/cassandra doc/native_protocol_v4.spec says: the 9-byte frame header
(section 2: version with the response bit 0x80, flags, stream, opcode, length),
SUPPORTED as a [string multimap] (4.2.4), READY (4.2.2, empty body), AUTHENTICATE
with the authenticator class as a [string] (4.2.3), ERROR as [int] code + [string]
message (4.2.1, code 0x000A protocol error, section 9), RESULT Rows with the global
table spec flag and varchar (0x000D) columns (4.2.5.2). A version it does not speak
is refused as Cassandra's ProtocolVersion.decode does: a protocol ERROR "Invalid or
unsupported protocol version (N); supported versions are (...)" in a frame of a
version it speaks, then the connection is closed. The SUPPORTED options are those
Cassandra 4.1 sends (CQL_VERSION 3.4.6, COMPRESSION, PROTOCOL_VERSIONS) and, for
ScyllaDB, the SCYLLA_* sharding options its drivers read (scylladb docs/dev/
protocol-extensions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext
from netatlas.grab.engine.detect import hint_from_replies
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import cassandra as cql
from netatlas.model import Endpoint, GrabResult

from .conftest import serve

HOST = "127.20.250.42"
CASSANDRA_41 = {"CQL_VERSION": ["3.4.6"], "COMPRESSION": ["snappy", "lz4"],
                "PROTOCOL_VERSIONS": ["3/v3", "4/v4", "5/v5", "6/v6-beta"]}
SCYLLA = {"CQL_VERSION": ["3.3.1"], "COMPRESSION": ["lz4", "snappy"],
          "SCYLLA_SHARD": ["0"], "SCYLLA_NR_SHARDS": ["2"],
          "SCYLLA_PARTITIONER": ["org.apache.cassandra.dht.Murmur3Partitioner"],
          "SCYLLA_SHARDING_ALGORITHM": ["biased-token-round-robin"],
          "SCYLLA_SHARDING_IGNORE_MSB": ["12"], "SCYLLA_LWT_ADD_METADATA_MARK": [
              "LWT_OPTIMIZATION_META_BIT_MASK=2147483648"]}
PASSWORD = "org.apache.cassandra.auth.PasswordAuthenticator"


def s(text: str) -> bytes:
    """[string]: a [short] n, then n bytes of UTF-8."""
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def response(version: int, stream: int, opcode: int, body: bytes, flags: int = 0) -> bytes:
    """A response frame; versions 1 and 2 have a one-byte stream (an 8-byte header)."""
    layout = ">BBbBi" if version <= 2 else ">BBhBi"
    return struct.pack(layout, 0x80 | version, flags, stream, opcode, len(body)) + body


def supported_body(options: dict[str, list[str]]) -> bytes:
    out = struct.pack(">H", len(options))
    for k, values in options.items():
        out += s(k) + struct.pack(">H", len(values)) + b"".join(s(v) for v in values)
    return out


def error_body(code: int, message: str) -> bytes:
    return struct.pack(">i", code) + s(message)


def rows_body(row: dict[str, str]) -> bytes:
    """RESULT kind Rows, flags Global_tables_spec, system.local, varchar columns."""
    body = struct.pack(">iii", cql.ROWS, 0x0001, len(row)) + s("system") + s("local")
    for name in row:
        body += s(name) + struct.pack(">H", 0x000D)
    body += struct.pack(">i", 1)
    for value in row.values():
        raw = value.encode()
        body += struct.pack(">i", len(raw)) + raw
    return body


def refusal(v: int, versions: tuple[int, ...], style: str) -> tuple[int, bytes]:
    """(code, message) of a version refusal in each release's words, as nmap's
    nmap-service-probes quotes them (its cassandra-native match lines)."""
    if style == "2.1":  # a v3 frame, server error, the exception's text
        return 0x0000, ("io.netty.handler.codec.DecoderException: org.apache.cassandra."
                        f"transport.ProtocolException: Invalid or unsupported protocol "
                        f"version: {v}")
    if style == "3.0":
        return cql.ERR_PROTOCOL, (f"Invalid or unsupported protocol version ({v}); the lowest "
                                  f"supported version is {min(versions)} and the greatest "
                                  f"is {max(versions)}")
    listed = ", ".join(f"{n}/v{n}" for n in versions)
    return cql.ERR_PROTOCOL, (f"Invalid or unsupported protocol version ({v}); "
                              f"supported versions are ({listed})")


class CqlServer:
    def __init__(self, options: dict[str, list[str]] = CASSANDRA_41,
                 versions: tuple[int, ...] = (3, 4, 5), authenticator: str | None = None,
                 release: str = "4.1.3", style: str = "3.10") -> None:
        self.options, self.versions = options, versions
        self.authenticator, self.release, self.style = authenticator, release, style
        self.seen_versions: list[int] = []

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ready = False
        while True:
            head = await r.readexactly(cql.HEADER)
            v, _flags, stream, opcode, length = struct.unpack(">BBhBi", head)
            self.seen_versions.append(v)
            if v not in self.versions:
                reply_v = max(self.versions) if v > max(self.versions) else v
                code, message = refusal(v, self.versions, self.style)
                w.write(response(reply_v, stream, cql.OP_ERROR, error_body(code, message)))
                await w.drain()
                return  # then Cassandra closes the channel
            if not 0 <= length <= 1 << 20:
                return
            body = await r.readexactly(length)
            if opcode == cql.OP_OPTIONS:
                w.write(response(v, stream, cql.OP_SUPPORTED, supported_body(self.options)))
            elif opcode == cql.OP_STARTUP:
                assert b"CQL_VERSION" in body
                if self.authenticator:
                    w.write(response(v, stream, cql.OP_AUTHENTICATE, s(self.authenticator)))
                else:
                    ready = True
                    w.write(response(v, stream, cql.OP_READY, b""))
            elif opcode == cql.OP_QUERY and ready:
                assert body[4:].startswith(b"SELECT cluster_name, release_version")
                w.write(response(v, stream, cql.OP_RESULT, rows_body({
                    "cluster_name": "Lab Cluster", "release_version": self.release,
                    "data_center": "datacenter1"})))
            else:
                w.write(response(v, stream, cql.OP_ERROR, error_body(
                    0x2100, "You have not logged in")))
            await w.drain()


def test_requests_are_laid_out_per_the_spec() -> None:
    assert cql.options_request(4) == b"\x04\x00\x00\x00\x05\x00\x00\x00\x00"
    startup = cql.startup_request(4)
    assert startup[:9] == b"\x04\x00\x00\x01\x01\x00\x00\x00\x16"
    assert startup[9:] == b"\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0"
    q = cql.query_request(4)
    assert q[4] == cql.OP_QUERY and q[-3:] == b"\x00\x01\x00"  # ONE, no flags


def test_parse_replies() -> None:
    v, op, said = cql.parse_reply(response(4, 0, cql.OP_SUPPORTED, supported_body(SCYLLA)))
    assert (v, op) == (4, cql.OP_SUPPORTED) and said["supported"]["SCYLLA_NR_SHARDS"] == ["2"]
    _, op, said = cql.parse_reply(response(4, 1, cql.OP_AUTHENTICATE, s(PASSWORD)))
    assert said == {"authenticator": PASSWORD}
    _, op, said = cql.parse_reply(response(4, 2, cql.OP_RESULT, rows_body(
        {"cluster_name": "c", "release_version": "5.0.2"})))
    assert said == {"cluster_name": "c", "release_version": "5.0.2"}
    # a warning (flag 0x08) before the body is skipped
    warned = response(4, 2, cql.OP_RESULT, struct.pack(">H", 1) + s("careful")
                      + rows_body({"release_version": "4.0.11"}), flags=0x08)
    assert cql.parse_reply(warned)[2] == {"release_version": "4.0.11"}


@pytest.mark.parametrize("bad", [
    b"",
    b"\x84\x00\x00",
    b"\x04\x00\x00\x00\x06\x00\x00\x00\x00",  # a request, not a response
    b"\x84\x00\x00\x00\x06\x7f\xff\xff\xff",  # a body of 2^31 - 1 bytes
    b"\x84\x01\x00\x00\x06\x00\x00\x00\x00",  # compressed
    b"\x84\x00\x00\x00\x06\x00\x00\x00\x04\xff\xff\x00\x01",  # 65535 options, cut
    b"\x84\x00\x00\x00\x03\x00\x00\x00\x02\x7f\xff",  # authenticator name cut
    b"\x84\x00\x00\x00\x09\x00\x00\x00\x00",  # an opcode we did not ask for
    b"HTTP/1.1 400 Bad Request\r\n\r\n",
])
def test_hostile_frames(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        cql.parse_reply(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(range(0x11)))
def test_fuzz(data: bytes, opcode: int) -> None:
    for buf in (data, response(4, 0, opcode, data)):
        with contextlib.suppress(ProtocolError):
            cql.parse_reply(buf)


def test_an_error_frame_gives_cassandra_away() -> None:
    err = response(4, 0, cql.OP_ERROR, error_body(*refusal(71, (3, 4, 5), "3.10")))
    assert cql.looks_like_error(err)
    assert hint_from_replies({"GetRequest": err}) == "cassandra"
    assert not cql.looks_like_error(b"HTTP/1.1 200 OK\r\n")
    # what Cassandra 2.1 (a v3 frame, server error 0) and 1.2 (v1: an 8-byte header)
    # answer a GET, as nmap-service-probes quotes them
    for v in (3, 1):
        code, message = refusal(71, (1, 2, 3), "2.1")
        body = error_body(code, message)
        assert cql.looks_like_error(response(v, 0, 0, body)), v
        assert cql.parse_reply(response(v, 0, 0, body))[2]["code"] == 0
    refused = response(4, 0, cql.OP_ERROR, error_body(cql.ERR_PROTOCOL, "Unknown opcode"))
    assert not cql.looks_like_error(refused)


async def test_live_open_cassandra_on_an_unusual_port(fast: GrabOptions) -> None:
    async with serve(CqlServer(), HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.status == "success", res.error
    assert res.service == "cassandra"
    c = res.sections["cassandra"]
    assert c["auth_required"] is False and c["scylla"] is False
    assert c["cql_version"] == "3.4.6" and c["release_version"] == "4.1.3"
    assert c["cluster_name"] == "Lab Cluster" and c["protocol_version"] == 4
    assert res.data.startswith(b"CQL_VERSION: 3.4.6\nCOMPRESSION: snappy, lz4\n")
    assert b"STARTUP: READY\ncluster_name: Lab Cluster" in res.data


async def test_live_password_authenticator_is_auth_required(fast: GrabOptions) -> None:
    async with serve(CqlServer(authenticator=PASSWORD), HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port, ), fast)
    c = res.sections["cassandra"]
    assert c["auth_required"] is True and c["authenticator"] == PASSWORD
    assert "release_version" not in c
    assert res.data.endswith(f"STARTUP: AUTHENTICATE {PASSWORD}".encode())


async def test_live_scylla(fast: GrabOptions) -> None:
    async with serve(CqlServer(SCYLLA, (3, 4), release="3.0.8"), HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    c = res.sections["cassandra"]
    assert c["scylla"] is True and c["scylla_shards"] == "2" and c["auth_required"] is False


@pytest.mark.parametrize(("versions", "style", "spoken"), [
    ((1, 2, 3), "2.1", 3), ((3,), "3.0", 3), ((3,), "3.10", 3), ((5,), "3.10", 5),
    ((5, 6), "3.10", 5), ((2, 3, 5), "3.10", 3)])
async def test_live_version_negotiation(fast: GrabOptions, versions: tuple[int, ...],
                                        style: str, spoken: int) -> None:
    """Cassandra 2.1 speaks up to v3 and refuses v4; a server of v5 and later only
    refuses v4: the grabber retries in a version the refusal names, else the one it
    came in."""
    server = CqlServer(versions=versions, style=style)
    async with serve(server, HOST) as port:
        res = await probe(port, fast)
    c = res.sections["cassandra"]
    assert c["protocol_version"] == spoken and c["auth_required"] is False
    assert "error" not in c and server.seen_versions[0] == 4
    assert ("release_version" in c) == (spoken <= 4)  # v5 frames the query anew


async def test_live_a_server_that_speaks_nothing_we_do(fast: GrabOptions) -> None:
    async with serve(CqlServer(versions=(1, 2)), HOST) as port:
        res = await probe(port, fast)
    c = res.sections["cassandra"]
    assert c["error"]["code"] == cql.ERR_PROTOCOL and "protocol_version" not in c


async def test_live_hostile_servers_are_cut_short(fast: GrabOptions) -> None:
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(9)
        w.write(struct.pack(">BBhBi", 0x84, 0, 0, cql.OP_SUPPORTED, 0x7FFFFFFF))
        while True:
            w.write(b"\x00\x01" * 32768)
            await w.drain()

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(9)
        w.write(struct.pack(">BBhBi", 0x84, 0, 0, cql.OP_SUPPORTED, 100))
        for _ in range(100):
            w.write(b"\x00")
            await w.drain()
            await asyncio.sleep(0.5)

    loop = asyncio.get_running_loop()
    for handler in (endless, drip):
        async with serve(handler, HOST) as port:
            started = loop.time()
            res = await probe(port, fast)
            assert loop.time() - started < 3 * fast.read_timeout + 1
        assert "cassandra" not in res.sections


async def probe(port: int, opts: GrabOptions) -> GrabResult:
    ctx = GrabContext(Endpoint(HOST, port), opts, GrabResult())
    try:
        await cql.probe(ctx)
    finally:
        ctx.abort_all()
    return ctx.result
