import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.amqp import HEADER, frame_complete, parse_start
from netatlas.model import Endpoint

from .conftest import serve


def shortstr(s: str) -> bytes:
    return bytes([len(s)]) + s.encode()


def longstr(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def table(items: list[tuple[str, bytes]]) -> bytes:
    return longstr(b"".join(shortstr(k) + v for k, v in items))


CAPS = table([("publisher_confirms", b"t\x01"), ("basic.nack", b"t\x01"), ("x", b"t\x00")])
PROPS = table(
    [
        ("capabilities", b"F" + CAPS),
        ("cluster_name", b"S" + longstr(b"rabbit@box")),
        ("copyright", b"S" + longstr(b"Copyright (c) 2007-2023 Broadcom Inc")),
        ("platform", b"S" + longstr(b"Erlang/OTP 25.3.2.8")),
        ("product", b"S" + longstr(b"RabbitMQ")),
        ("version", b"S" + longstr(b"3.12.1")),
        ("odd", b"A" + longstr(b"I\x00\x00\x00\x01" + b"V" + b"D\x02\x00\x00\x01\x00")),
    ]
)
PAYLOAD = (
    struct.pack(">HHBB", 10, 10, 0, 9) + PROPS + longstr(b"PLAIN AMQPLAIN") + longstr(b"en_US")
)
START = struct.pack(">BHI", 1, 0, len(PAYLOAD)) + PAYLOAD + b"\xce"


def test_parse_start() -> None:
    s = parse_start(START)
    assert s["product"] == "RabbitMQ" and s["version"] == "3.12.1"
    assert s["platform"] == "Erlang/OTP 25.3.2.8" and s["cluster_name"] == "rabbit@box"
    assert s["capabilities"] == ["basic.nack", "publisher_confirms"]
    assert s["mechanisms"] == ["PLAIN", "AMQPLAIN"] and s["locales"] == ["en_US"]
    assert (s["version_major"], s["version_minor"]) == (0, 9)
    assert parse_start(b"AMQP\x00\x00\x09\x01")["protocol_mismatch"] is True
    assert frame_complete(START) and not frame_complete(START[:-1])
    assert frame_complete(b"\x01\x00\x00\x7f\xff\xff\xff")  # claims 2 GB: stop now
    with pytest.raises(ProtocolError):
        parse_start(START[:-1] + b"\x00")  # no frame-end
    with pytest.raises(ProtocolError):
        parse_start(START[:40])


def test_nesting_is_bounded() -> None:
    t = table([("a", b"t\x01")])
    for _ in range(10):
        t = table([("n", b"F" + t)])
    payload = struct.pack(">HHBB", 10, 10, 0, 9) + t + longstr(b"") + longstr(b"")
    with pytest.raises(ProtocolError, match="nested"):
        parse_start(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz(data: bytes) -> None:
    frame_complete(data)
    body = struct.pack(">HHBB", 10, 10, 0, 9) + data
    for d in (data, struct.pack(">BHI", 1, 0, len(body)) + body + b"\xce"):
        with contextlib.suppress(ProtocolError):
            parse_start(d)


async def test_live_fake_rabbitmq(fast: GrabOptions) -> None:
    async def broker(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = await r.readexactly(8)
        # RabbitMQ answers any other first 8 bytes with its protocol header and hangs up
        w.write(START if got == HEADER else HEADER)
        await w.drain()
        if got == HEADER:
            await r.read()

    async with serve(broker, "127.20.250.69") as port:
        res = await grab_endpoint(Endpoint("127.20.250.69", port), fast)
    assert res.status == "success", res.error
    assert res.service == "amqp" and res.sections["amqp"]["product"] == "RabbitMQ"
