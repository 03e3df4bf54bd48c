"""Spark's RPC port (grab/protocols/spark.py): the parser on the replies of a real pyspark
4.3.0 master (tests/grab/spark_bytes.py); a loopback server replaying one on the master's
port, and hostile ones; the lab's real Spark master."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.spark import MAX_ERROR, REQUEST, REQUEST_ID, parse_failure
from netatlas.identify import Identifier
from netatlas.model import Endpoint
from tests.grab.spark_bytes import AUTH, OPEN, frame
from tests.labsvc import lab_named

IP = "127.20.250.77"


def test_the_request_is_one_spark_frame() -> None:
    length, kind, rid, size = struct.unpack(">qBqi", REQUEST[:21])
    assert length == len(REQUEST) and kind == 3 and rid == REQUEST_ID
    assert size == len(REQUEST) - 21


def test_parse_the_real_replies() -> None:
    assert parse_failure(OPEN) == {"error": "java.io.EOFException", "auth_required": False}
    guarded = parse_failure(AUTH)
    assert guarded is not None and guarded["auth_required"] is True
    assert guarded["error"].startswith("java.lang.IllegalStateException: Expected SaslMessage")


def test_what_is_not_spark_is_refused() -> None:
    other = frame("java.io.EOFException\n\tat com.example.Other.read(X.java:1)")
    assert parse_failure(other) is None
    assert parse_failure(frame(OPEN[21:].decode(), request_id=7)) is None  # not our request
    assert parse_failure(frame(OPEN[21:].decode(), kind=2)) is None  # not a failure
    assert parse_failure(OPEN[:20]) is None
    assert parse_failure(b"HTTP/1.1 400 Bad Request\r\n\r\n") is None
    huge = struct.pack(">qBqi", 1 << 40, 5, REQUEST_ID, 10) + b"org.apache.spark"
    assert parse_failure(huge) is None
    negative = struct.pack(">qBqi", 40, 5, REQUEST_ID, -1) + b"org.apache.spark" * 2
    assert parse_failure(negative) is None
    long_line = frame("x" * 100_000 + "\n\tat org.apache.spark.rpc.netty.X")
    assert parse_failure(long_line) is None  # the stack is past what we read
    first = parse_failure(frame("y" * 2_000 + " org.apache.spark.rpc"))
    assert first is not None and len(first["error"]) == MAX_ERROR


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz(data: bytes) -> None:
    parse_failure(data)
    parse_failure(struct.pack(">qBq", len(data) + 17, 5, REQUEST_ID) + data)


async def _serve(reply: bytes, close: bool = True, port: int = 0) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(REQUEST))
        writer.write(reply)
        await writer.drain()
        if close:
            writer.close()
        else:
            await asyncio.sleep(30)

    server = await asyncio.start_server(handle, IP, port)
    port = server.sockets[0].getsockname()[1]
    assert port != 2024
    async with server:
        yield port


@pytest.fixture
async def drip() -> AsyncIterator[int]:
    """A server that sends a real reply's first byte and then nothing: bounded by time."""
    async for port in _serve(OPEN[:1], close=False):
        yield port


async def test_a_stalled_reply_is_cut_by_the_read_timeout(drip: int) -> None:
    opts = GrabOptions(read_timeout=1.0, connect_timeout=1.0)
    res = await asyncio.wait_for(grab_endpoint(Endpoint(IP, drip), opts), 60)
    assert "spark" not in res.sections


async def test_a_replayed_master_on_the_masters_port_is_spark() -> None:
    async for port in _serve(OPEN, port=7077):  # asked first there (its port hint)
        res = await grab_endpoint(Endpoint(IP, port), GrabOptions(read_timeout=2.0))
        assert res.service == "spark" and res.sections["spark"]["auth_required"] is False


@pytest.mark.lab
async def test_the_labs_spark_master(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "spark-rpc")
    ep = Endpoint(svc.ip, svc.port)
    res = await grab_endpoint(ep, GrabOptions())
    assert res.service == "spark", (res.status, res.error)
    assert res.sections["spark"] == {"error": "java.io.EOFException", "auth_required": False}
    ident = Identifier(nmap=None, fingerprints=None).identify(res, ep)
    assert (ident.service, ident.product) == ("spark", "Apache Spark")
