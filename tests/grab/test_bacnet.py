import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from importlib import metadata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions
from netatlas.grab.engine.context import Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.bacnet import (
    decode_value,
    parse_i_am,
    parse_reply,
    probe,
    read_property,
    who_is,
)
from netatlas.model import GrabResult

HOST = "127.20.15.213"
# What the lab's bacpypes3 0.0.110 device (instance 599) sent (captured in the lab).
I_AM = bytes.fromhex("810a001501001000c40200025722040091002203e7")
VENDOR = bytes.fromhex("810a001d010030050c0c0200025719793e75090042414370797065733f")
VENDOR_ID = bytes.fromhex("810a0015010030050c0c0200025719783e2203e73f")
FIRMWARE = bytes.fromhex("810a001c010030050c0c02000257192c3e750800302e302e3131303f")
UNKNOWN_PROPERTY = bytes.fromhex("810a000d010050050c91029120")
UNKNOWN_OBJECT = bytes.fromhex("810a000d010050050c9101911f")


def test_request_bytes() -> None:
    # nmap bacnet-info's shape: BVLC unicast, NPDU expecting reply, confirmed ReadProperty
    # of device 4194303 (the wildcard)
    assert read_property(75, 1).hex() == "810a001101040005010c0c023fffff194b"
    assert read_property(121, 7, 599).hex() == "810a001101040005070c0c0200025719" + "79"
    assert who_is().hex() == "810a000801001008"


def test_parse_captured() -> None:
    assert parse_reply(VENDOR, 5) == {"property": 121, "value": "BACpypes"}
    assert parse_reply(VENDOR_ID) == {"property": 120, "value": 999}
    assert parse_reply(FIRMWARE)["value"] == "0.0.110"
    assert parse_reply(UNKNOWN_PROPERTY) == {"error": "error", "error_class": "property",
                                             "error_code": 32}
    assert parse_reply(UNKNOWN_OBJECT)["error_code"] == 31
    assert parse_i_am(I_AM) == {"instance": 599, "max_apdu": 1024, "segmentation": 0,
                                "vendor_id": 999}
    with pytest.raises(ProtocolError):
        parse_reply(VENDOR, 6)  # another request's reply


def test_routed_reply_array_index_and_charsets() -> None:
    # NPDU with a source network (a reply through a BACnet router), an array index, and
    # a UCS-2 character string
    npdu = b"\x01\x08" + b"\x00\x05\x01\x2a"
    apdu = (b"\x30\x09\x0c\x0c\x02\x00\x00\x01\x19\x46\x29\x01\x3e"
            + b"\x75\x09\x04" + "Café".encode("utf-16-be") + b"\x3f")
    msg = b"\x81\x0a" + (4 + len(npdu) + len(apdu)).to_bytes(2, "big") + npdu + apdu
    assert parse_reply(msg, 9) == {"property": 70, "value": "Café"}
    assert decode_value(b"\x75\x04\x05caf", 0)[0] == "caf"  # ISO 8859-1
    assert decode_value(b"\x11", 0) == (True, 1)
    assert decode_value(b"\xc4\x02\x00\x02\x57", 0)[0] == "8:599"


def test_refusals_and_garbage() -> None:
    assert parse_reply(bytes.fromhex("810a0009010060050a"))["error"] == "reject"
    assert parse_reply(bytes.fromhex("810a0009010070050b"))["error"] == "abort"
    segmented = bytearray(VENDOR)
    segmented[6] |= 0x08
    bad = [b"", b"\x81", b"HTTP/1.1 400", VENDOR[:-1], VENDOR + b"x", bytes(segmented),
           bytes.fromhex("810a000801801000"),  # a network-layer message
           bytes.fromhex("810a000d010030050c0c0200"),  # ACK cut short
           bytes.fromhex("810a001001003005"
                         "0c0c0200"), b"\x81\x0a\x00\x07\x02\x00\x30"]
    for b in bad:
        with pytest.raises(ProtocolError):
            parse_reply(b)
    with pytest.raises(ProtocolError):
        parse_i_am(VENDOR)


def test_strings_are_capped_and_printable() -> None:
    body = b"\x00" + b"A\x07" * 3000
    apdu = (b"\x30\x01\x0c\x0c\x02\x00\x00\x01\x19\x79\x3e\x75\xfe"
            + len(body).to_bytes(2, "big") + body + b"\x3f")
    msg = b"\x81\x0a" + (6 + len(apdu)).to_bytes(2, "big") + b"\x01\x00" + apdu
    value = parse_reply(msg)["value"]
    assert len(value) <= 128 and "\x07" not in value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz(data: bytes) -> None:
    for d in (data, b"\x81\x0a" + (len(data) + 6).to_bytes(2, "big") + b"\x01\x00" + data,
              VENDOR[:10] + data):
        with contextlib.suppress(ProtocolError):
            parse_reply(d)
        with contextlib.suppress(ProtocolError):
            parse_i_am(d)
    with contextlib.suppress(ProtocolError):
        decode_value(data, 0)


Responder = Callable[[bytes], list[bytes]]


@contextlib.asynccontextmanager
async def udp_device(respond: Responder) -> AsyncIterator[int]:
    """A fake BACnet/IP device on an ephemeral UDP port of HOST."""

    class Device(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            for reply in respond(data):
                self.t.sendto(reply, addr)  # type: ignore[attr-defined]

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Device, local_addr=(HOST, 0))
    port = transport.get_extra_info("sockname")[1]
    assert port != 2024
    try:
        yield port
    finally:
        transport.close()


def _ack(req: bytes, value: bytes) -> bytes:
    apdu = b"\x30" + req[8:9] + b"\x0c" + req[10:15] + req[15:17] + b"\x3e" + value + b"\x3f"
    return b"\x81\x0a" + (6 + len(apdu)).to_bytes(2, "big") + b"\x01\x00" + apdu


async def test_device_answering_the_wildcard(fast: GrabOptions) -> None:
    asked: list[bytes] = []

    def respond(req: bytes) -> list[bytes]:
        asked.append(req)
        prop = req[16]
        if prop == 121:
            return [_ack(req, b"\x75\x07\x00Acme B")]
        if prop == 44:
            return [_ack(req, b"\x75\x05\x00v2.1")]
        err = b"\x50" + req[8:9] + b"\x0c\x91\x02\x91\x20"
        return [b"\x81\x0a" + (6 + len(err)).to_bytes(2, "big") + b"\x01\x00" + err]

    result = GrabResult()
    async with udp_device(respond) as port:
        assert await probe(HOST, port, fast, result) == Outcome.POSITIVE
    b = result.sections["bacnet"]
    assert result.service == "bacnet"
    assert b["vendor_name"] == "Acme B" and b["firmware_revision"] == "v2.1"
    assert b["errors"]["model_name"] == 32
    # every request: ReadProperty (service 0x0C) of the wildcard device object
    assert all(r[9] == 0x0C and r[11:15] == b"\x02\x3f\xff\xff" for r in asked)


async def test_hostile_devices(fast: GrabOptions) -> None:
    def silent(req: bytes) -> list[bytes]:
        return []

    def noisy(req: bytes) -> list[bytes]:  # junk, replies to other requests, 64 KB
        wrong = bytearray(VENDOR)
        wrong[8] ^= 0xFF
        return [b"\x00" * 60_000, bytes(wrong), b"HTTP/1.1 200 OK\r\n"] * 10

    for respond in (silent, noisy):
        result = GrabResult()
        async with udp_device(respond) as port:
            # SILENT: the read deadline ended it, the noise was never taken for an answer
            assert await probe(HOST, port, fast, result) == Outcome.SILENT
        assert "bacnet" not in result.sections


@pytest.mark.lab
async def test_lab_bacnet(request: pytest.FixtureRequest) -> None:
    """The lab's bacpypes3 device: no wildcard support, so Who-Is, then by instance."""
    services = request.getfixturevalue("lab")
    svc = next((s for s in services if s.service == "bacnet" and s.running), None)
    if svc is None:
        pytest.skip("lab bacnet service is not running")
    result = GrabResult()
    assert await probe(svc.ip, svc.port, GrabOptions(), result) == Outcome.POSITIVE
    b = result.sections["bacnet"]
    assert b["vendor_name"] == "BACpypes" and b["instance"] > 0
    assert b["firmware_revision"] == metadata.version("bacpypes3") == svc.version
