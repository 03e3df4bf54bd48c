import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.detect import classify_greeting
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.nats import parse_info
from netatlas.model import Endpoint

from .conftest import serve

INFO = (
    b'INFO {"server_id":"NCXYZ","server_name":"n1","version":"2.10.7","proto":1,'
    b'"go":"go1.21.5","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,'
    b'"jetstream":true,"client_id":5,"client_ip":"127.0.0.1","nonce":"x"}\r\n'
)


def test_parse_info() -> None:
    s = parse_info(INFO)
    assert s["version"] == "2.10.7" and s["go"] == "go1.21.5" and s["jetstream"] is True
    assert s["auth_required"] is False and "client_ip" not in s
    assert classify_greeting(INFO) == "nats"
    for bad in (b"INFO [1]\r\n", b"INFO {bad\r\n", b"+OK\r\n"):
        with pytest.raises(ProtocolError):
            parse_info(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz(data: bytes) -> None:
    for d in (data, b"INFO {" + data, b"INFO " + data):
        with contextlib.suppress(ProtocolError):
            parse_info(d)


async def test_live_fake_nats(fast: GrabOptions) -> None:
    async def natsd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(INFO)
        await w.drain()
        await r.read()

    async with serve(natsd, "127.20.250.66") as port:
        res = await grab_endpoint(Endpoint("127.20.250.66", port), fast)
    assert res.status == "success", res.error
    assert res.service == "nats" and res.sections["nats"]["server_name"] == "n1"
