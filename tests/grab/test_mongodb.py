"""MongoDB grabber. No MongoDB server can run on this machine (none in Debian, no
download allowed), so the replies here are built to the wire specification: BSON by
pymongo's own encoder (an independent implementation), message headers by hand."""

import asyncio
import contextlib
import struct
from typing import Any

import bson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs import bsonlite
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.mongodb import (
    OP_MSG,
    OP_QUERY,
    OP_REPLY,
    build_facts,
    hello_facts,
    message_complete,
    op_msg,
    op_query,
    parse_reply,
    probe,
)
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult, Observation

from .conftest import serve

HOST = "127.20.15.212"
HELLO = {
    "topologyVersion": {"processId": bson.ObjectId(), "counter": 0},
    "isWritablePrimary": True, "maxBsonObjectSize": 16777216,
    "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
    "localTime": bson.datetime.datetime(2026, 11, 29), "logicalSessionTimeoutMinutes": 30,
    "connectionId": 17, "minWireVersion": 0, "maxWireVersion": 21, "readOnly": False,
    "ok": 1.0,
}
BUILD_INFO = {
    "version": "7.0.4", "gitVersion": "38f3e37057a43d2e9f41a39142681a76062d582e",
    "modules": [], "allocator": "tcmalloc", "javascriptEngine": "mozjs",
    "sysInfo": "deprecated", "versionArray": [7, 0, 4, 0],
    "openssl": {"running": "OpenSSL 3.0.2 15 Mar 2022", "compiled": "OpenSSL 3.0.2"},
    "buildEnvironment": {"distmod": "ubuntu2204", "distarch": "x86_64",
                         "target_arch": "x86_64", "target_os": "linux"},
    "bits": 64, "debug": False, "maxBsonObjectSize": 16777216,
    "storageEngines": ["devnull", "ephemeralForTest", "wiredTiger"], "ok": 1.0,
}
UNAUTHORIZED = {"ok": 0.0, "errmsg": "command buildInfo requires authentication",
                "code": 13, "codeName": "Unauthorized"}


def msg_reply(doc: dict[str, Any], response_to: int) -> bytes:
    body = b"\x00\x00\x00\x00\x00" + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), 99, response_to, OP_MSG) + body


def legacy_reply(doc: dict[str, Any], response_to: int) -> bytes:
    body = struct.pack("<iqii", 8, 0, 0, 1) + bson.encode(doc)
    return struct.pack("<iiii", 16 + len(body), 98, response_to, OP_REPLY) + body


def test_requests_follow_the_spec() -> None:
    m = op_msg({"hello": 1}, 7)
    length, rid, to, op = struct.unpack_from("<iiii", m)
    assert (length, rid, to, op) == (len(m), 7, 0, OP_MSG)
    assert m[16:21] == b"\x00\x00\x00\x00\x00"  # no flags, body section
    assert bson.decode(m[21:]) == {"hello": 1, "$db": "admin"}
    q = op_query({"isMaster": 1}, 8)
    assert struct.unpack_from("<iiii", q) == (len(q), 8, 0, OP_QUERY)
    assert q[20:31] == b"admin.$cmd\x00" and struct.unpack_from("<ii", q, 31) == (0, -1)
    assert bson.decode(q[39:]) == {"isMaster": 1}


def test_parse_hello_and_build_info() -> None:
    op, doc = parse_reply(msg_reply(HELLO, 7), 7)
    assert op == OP_MSG
    assert hello_facts(doc) == {"writable_primary": True, "max_wire_version": 21,
                                "min_wire_version": 0, "max_bson_object_size": 16777216,
                                "read_only": False, "session_timeout_minutes": 30,
                                "connection_id": 17}
    facts = build_facts(parse_reply(msg_reply(BUILD_INFO, 8))[1])
    assert facts == {"buildinfo_answered": True, "version": "7.0.4",
                     "git_version": "38f3e37057a43d2e9f41a39142681a76062d582e",
                     "allocator": "tcmalloc", "javascript_engine": "mozjs", "bits": 64,
                     "debug": False, "sys_info": "deprecated", "modules": [],
                     "openssl": "OpenSSL 3.0.2 15 Mar 2022", "distmod": "ubuntu2204",
                     "target_arch": "x86_64", "target_os": "linux"}
    assert build_facts(UNAUTHORIZED) == {
        "buildinfo_answered": False, "buildinfo_error": UNAUTHORIZED["errmsg"]}


def test_parse_legacy_and_replica_set() -> None:
    doc = {"ismaster": False, "secondary": True, "setName": "rs0",
           "hosts": ["db1:27017", "db2:27017"], "saslSupportedMechs": ["SCRAM-SHA-256"],
           "maxWireVersion": 5, "ok": 1.0}
    op, got = parse_reply(legacy_reply(doc, 3), 3)
    assert op == OP_REPLY
    assert hello_facts(got) == {"writable_primary": False, "secondary": True,
                                "replica_set": "rs0", "max_wire_version": 5,
                                "hosts": ["db1:27017", "db2:27017"],
                                "auth_mechanisms": ["SCRAM-SHA-256"]}


def test_bad_messages() -> None:
    good = msg_reply(HELLO, 7)
    with pytest.raises(ProtocolError):
        parse_reply(good, 8)  # answers another request
    bad = [b"", good[:15], good[:-1], struct.pack("<iiii", 16, 0, 0, OP_MSG),
           struct.pack("<iiii", 10**8, 0, 0, OP_MSG) + b"x" * 100,
           good[:4] + good[4:12] + struct.pack("<i", 2012) + good[16:],
           good[:20] + b"\x01" + good[21:],  # a document-sequence section first
           legacy_reply(HELLO, 1)[:32] + struct.pack("<i", 0) + legacy_reply(HELLO, 1)[36:],
           b"HTTP/1.0 200 OK\r\n\r\nIt looks like you are trying to access MongoDB"]
    for b in bad:
        with pytest.raises(ProtocolError):
            parse_reply(b)
    assert message_complete(good) and not message_complete(good[:-1])
    assert message_complete(b"HTTP")  # absurd length: stop reading


def _nested(depth: int) -> bytes:
    doc = bson.encode({"x": 1})
    for _ in range(depth):
        doc = bson.encode({"d": bson.decode(doc)})
    return doc


def test_bson_caps() -> None:
    assert bsonlite.decode(_nested(7))[0]["d"]["d"]
    with pytest.raises(ProtocolError):
        bsonlite.decode(_nested(12))
    with pytest.raises(ProtocolError):
        bsonlite.decode(bson.encode({f"k{i}": i for i in range(600)}))
    with pytest.raises(ProtocolError):
        bsonlite.decode(struct.pack("<i", 10**7) + b"\x00" * 100)
    long = bsonlite.decode(bson.encode({"s": "A" * 5000}))[0]["s"]
    assert len(long) == 1024
    lying = bytearray(bson.encode({"s": "abc"}))
    lying[7] = 0x7F  # the string claims more bytes than its document has
    with pytest.raises(ProtocolError):
        bsonlite.decode(bytes(lying))


_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_scalars = st.one_of(st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none(),
                     st.floats(allow_nan=False), st.text(_chars, max_size=20))
_docs = st.recursive(st.dictionaries(st.text(_chars, max_size=8), _scalars, max_size=5),
                     lambda inner: st.dictionaries(st.text("abc", max_size=3), inner,
                                                   max_size=3), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_docs)
def test_bson_agrees_with_pymongo(doc: dict[str, Any]) -> None:
    assert bsonlite.decode(bson.encode(doc))[0] == doc
    flat = {k: v for k, v in doc.items() if isinstance(v, str | int | float | dict)}
    with contextlib.suppress(TypeError):
        assert bson.decode(bsonlite.encode(flat)) == flat


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz(data: bytes) -> None:
    message_complete(data)
    for d in (data, struct.pack("<iiii", len(data) + 16, 0, 0, OP_MSG) + data,
              struct.pack("<iiii", len(data) + 21, 0, 0, OP_MSG) + b"\0" * 5 + data):
        with contextlib.suppress(ProtocolError):
            parse_reply(d)
    with contextlib.suppress(ProtocolError):
        bsonlite.decode(data)


def ctx_for(port: int, opts: GrabOptions) -> GrabContext:
    return GrabContext(ep=Endpoint(HOST, port), opts=opts, result=GrabResult())


async def _read_message(r: asyncio.StreamReader) -> tuple[int, int, dict[str, Any]]:
    head = await r.readexactly(16)
    length, rid, _, op = struct.unpack("<iiii", head)
    body = await r.readexactly(length - 16)
    doc = bson.decode(body[5:]) if op == OP_MSG else bson.decode(body[4 + 11 + 8:])
    return op, rid, doc


async def test_op_msg_server(fast: GrabOptions) -> None:
    seen: list[dict[str, Any]] = []

    async def mongod(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            _, rid, doc = await _read_message(r)
            seen.append(doc)
            w.write(msg_reply(HELLO if "hello" in doc else BUILD_INFO, rid))
            await w.drain()

    async with serve(mongod, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    m = ctx.result.sections["mongodb"]
    assert ctx.result.service == "mongodb" and m["wire_protocol"] == "OP_MSG"
    assert m["version"] == "7.0.4" and m["buildinfo_answered"] is True
    assert [next(iter(d)) for d in seen] == ["hello", "buildInfo"]  # metadata only


async def test_legacy_server_and_auth_refusal(fast: GrabOptions) -> None:
    """A pre-3.6 server hangs up on OP_MSG; OP_QUERY works; buildInfo refused."""
    async def old(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            op, rid, doc = await _read_message(r)
            if op == OP_MSG:
                return
            reply = {"ismaster": True, "maxWireVersion": 4, "ok": 1.0}
            w.write(legacy_reply(reply if "isMaster" in doc else UNAUTHORIZED, rid))
            await w.drain()

    async with serve(old, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    m = ctx.result.sections["mongodb"]
    assert m["wire_protocol"] == "OP_QUERY" and m["max_wire_version"] == 4
    assert m["buildinfo_answered"] is False and "requires authentication" in m[
        "buildinfo_error"]


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(100)
        w.write(struct.pack("<iiii", 50_000_000, 1, 1, OP_MSG))
        for _ in range(200):
            w.write(b"\x00" * 100_000)
            await w.drain()

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        _, rid, _ = await _read_message(r)
        for b in msg_reply(HELLO, rid):
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(1)

    for handler, want in ((tarpit, Outcome.SILENT), (flood, Outcome.NEGATIVE),
                          (drip, Outcome.NEGATIVE)):
        async with serve(handler, HOST) as port:
            ctx = ctx_for(port, fast)
            # the outcome is the bound: without a read deadline the tarpit would not be
            # SILENT and the drip would complete (POSITIVE)
            assert await probe(ctx) == want, handler.__name__
            assert "mongodb" not in ctx.result.sections


async def test_port_hint_identify_and_assess() -> None:
    """On 27017 detection asks MongoDB first; the record names MongoDB 7.0.4 and
    raises mongodb-exposed (medium), the finding that says data access was not tried."""
    async def mongod(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while True:
                _, rid, doc = await _read_message(r)
                w.write(msg_reply(HELLO if "hello" in doc else BUILD_INFO, rid))
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.transport.abort()

    ip = "127.20.15.214"
    server = await asyncio.start_server(mongod, ip, 27017)
    try:
        ep = Endpoint(ip, 27017)
        res = await grab_endpoint(ep, GrabOptions(banner_wait=0.3, read_timeout=1.0))
    finally:
        server.close()
        await server.wait_closed()
    assert res.status == "success", res.error
    ident = Identifier().identify(res, ep)
    assert (ident.service, ident.product, ident.version) == ("mongodb", "MongoDB", "7.0.4")
    assert "cpe:/a:mongodb:mongodb:7.0.4" in ident.cpe
    [finding] = assess(Observation.build(ep, "t", res, ident))
    assert (finding.id, finding.severity) == ("mongodb-exposed", "medium")
    assert "'7.0.4'" in finding.evidence and "not tested" in finding.evidence
