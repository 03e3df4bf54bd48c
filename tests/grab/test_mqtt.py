import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.mqtt import (
    DISCONNECT,
    connack_complete,
    connect_packet,
    parse_connack,
    parse_publish,
    remaining_length,
    split_packets,
    subscribe_packet,
    version_complete,
)
from netatlas.model import Endpoint
from tests.labsvc import lab_service

from .conftest import serve


def test_connect_packet() -> None:
    pkt = connect_packet(b"netatlas-x")
    assert pkt[0] == 0x10 and pkt[1] == len(pkt) - 2
    assert pkt[2:10] == b"\x00\x04MQTT\x04\x02"  # level 4, clean session, no user/password
    assert pkt.endswith(b"\x00\x0anetatlas-x")


def test_parse_connack() -> None:
    ok = parse_connack(b"\x20\x02\x00\x00")
    assert ok["anonymous"] is True and ok["return_code"] == 0
    no = parse_connack(b"\x20\x02\x00\x05")
    assert no["anonymous"] is False and no["return_text"] == "not authorized"
    assert parse_connack(b"\x20\x02\x01\x00")["session_present"] is True
    for bad in (b"", b"\x20\x02\x00", b"HTTP/1.1", b"\x20\x02\x80\x00", b"\x20\x01\x00\x00"):
        with pytest.raises(ProtocolError):
            parse_connack(bad)
    assert connack_complete(b"\x20\x02\x00\x00") and not connack_complete(b"\x20\x02")
    assert connack_complete(b"H")


VERSION_PUB = b"\x31\x2d\x00\x13$SYS/broker/versionmosquitto version 2.0.11"
SUBACK = b"\x90\x03\x00\x01\x00"


def test_packets() -> None:
    assert subscribe_packet() == b"\x82\x18\x00\x01\x00\x13$SYS/broker/version\x00"
    assert remaining_length(b"\x30\xc1\x02") == (321, 2)
    assert remaining_length(b"\x30\xc1") is None
    with pytest.raises(ProtocolError):
        remaining_length(b"\x30\xff\xff\xff\xff\x01")
    pkts, rest = split_packets(SUBACK + VERSION_PUB + b"\x30\x05ab")
    assert pkts == [SUBACK, VERSION_PUB] and rest == b"\x30\x05ab"
    assert parse_publish(VERSION_PUB) == ("$SYS/broker/version", b"mosquitto version 2.0.11")
    assert not version_complete(SUBACK) and version_complete(SUBACK + VERSION_PUB)
    with pytest.raises(ProtocolError):
        parse_publish(b"\x30\x05\x00\x09abc")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz(data: bytes) -> None:
    connack_complete(data)
    for d in (data, b"\x20" + data):
        with contextlib.suppress(ProtocolError):
            parse_connack(d)
    version_complete(data)
    for d in (data, b"\x30" + data, b"\x90\x03\x00\x01\x00" + data):
        with contextlib.suppress(ProtocolError):
            split_packets(d)
        with contextlib.suppress(ProtocolError):
            parse_publish(d)


@pytest.mark.parametrize(("rc", "anonymous"), [(0, True), (5, False)])
async def test_live_fake_broker(fast: GrabOptions, rc: int, anonymous: bool) -> None:
    got: list[bytes] = []

    async def broker(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first = await r.read(1)
        if first != b"\x10":  # what a broker does with anything but CONNECT: hang up
            return
        n = (await r.readexactly(1))[0]
        got.append(first + bytes([n]) + await r.readexactly(n))
        w.write(bytes([0x20, 2, 0, rc]))
        await w.drain()
        if rc:
            return
        got.append(await r.readexactly(26))
        w.write(SUBACK + VERSION_PUB)
        await w.drain()
        got.append(await r.read(2))

    async with serve(broker, "127.20.250.62") as port:
        res = await grab_endpoint(Endpoint("127.20.250.62", port), fast)
        await asyncio.sleep(0.1)
    assert res.status == "success", res.error
    assert res.service == "mqtt"
    assert res.sections["mqtt"]["anonymous"] is anonymous
    assert got[0][2:8] == b"\x00\x04MQTT" and got[0][9] == 0x02  # no credentials flags
    if anonymous:
        assert got[1:] == [subscribe_packet(), DISCONNECT]  # nothing published
        assert res.sections["mqtt"]["broker_version"] == "mosquitto version 2.0.11"


@pytest.mark.lab
async def test_lab_mqtt(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "mqtt")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "mqtt"
    assert res.sections["mqtt"]["anonymous"] is ("anonymous" in svc.tags)
    if "anonymous" in svc.tags:
        assert res.sections["mqtt"]["broker_version"].startswith("mosquitto version ")
