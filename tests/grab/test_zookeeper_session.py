"""ZooKeeper's client session (``ls /``): the codec on bytes captured from Debian 12's
zookeeper 3.8.0 (standalone, default config, answering this module's own requests), a
fuzzed parser, a server that refuses, and the lab's real ZooKeeper."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.zookeeper_session import (
    close_request,
    connect_request,
    get_children_request,
    parse_children_reply,
    parse_connect_response,
)
from netatlas.model import Endpoint
from tests.labsvc import lab_named

from .conftest import serve
from .test_zookeeper import SRVR

# Debian 12 zookeeper 3.8.0's replies to connect_request() and get_children_request(1)
CONNECT_REPLY = bytes.fromhex(
    "000000250000000000001388010001108a200001000000106570ca2617ef01fb7592b862ecaac24700")
CHILDREN_REPLY = bytes.fromhex(
    "000000210000000100000000000000030000000000000001000000097a6f6f6b6565706572")


def test_requests_are_what_zkcli_sends() -> None:
    req = connect_request()
    assert struct.unpack(">i", req[:4])[0] == len(req) - 4 == 45
    assert struct.unpack(">iqiqi", req[4:32]) == (0, 0, 5000, 0, 16)
    assert get_children_request(1) == bytes.fromhex("0000000e000000010000000800000001" "2f00")
    assert close_request(2) == bytes.fromhex("0000000800000002fffffff5")


def test_parse_captured_replies() -> None:
    session = parse_connect_response(CONNECT_REPLY[4:])
    assert session == {"timeout_ms": 5000, "session_id": "0x10001108a200001"}
    assert parse_children_reply(CHILDREN_REPLY[4:], 1) == (0, ["zookeeper"])
    no_auth = struct.pack(">iqi", 1, 3, -102)  # NOAUTH: an ACL or SASL said no
    assert parse_children_reply(no_auth, 1) == (-102, [])
    with pytest.raises(ProtocolError):
        parse_children_reply(CHILDREN_REPLY[4:], 7)  # a reply to another request


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz(data: bytes) -> None:
    for d in (data, CONNECT_REPLY[4:24] + data, CHILDREN_REPLY[4:24] + data):
        with contextlib.suppress(ProtocolError):
            parse_connect_response(d)
        with contextlib.suppress(ProtocolError):
            parse_children_reply(d, 1)


async def test_server_that_drops_the_session(fast: GrabOptions) -> None:
    """srvr answers, but the session is refused (SASL required): not readable."""
    async def zk(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.read(4)
        if head == b"srvr":
            w.write(SRVR)
            await w.drain()
        # a ConnectRequest: hang up, as a server requiring SASL does on its first read

    async with serve(zk, "127.20.250.69") as port:
        res = await grab_endpoint(Endpoint("127.20.250.69", port, "tcp"), fast)
    z = res.sections["zookeeper"]
    assert z["mode"] == "standalone" and z.get("root_readable") is not True


@pytest.mark.lab
async def test_lab_zookeeper_lists_root(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "zookeeper")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    z = res.sections["zookeeper"]
    assert z["session"] is True and z["root_readable"] is True
    assert "zookeeper" in z["root_children"]
