import asyncio
import contextlib
from importlib import metadata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.modbus import (
    device_id_request,
    frame_complete,
    parse_device_id,
    parse_frame,
    parse_server_id,
    probe,
    section_from,
    server_id_request,
)
from netatlas.model import Endpoint, GrabResult
from tests.labsvc import lab_service

from .conftest import serve

HOST = "127.20.15.210"  # this suite's fake servers: inside the helper's own lab net
# What pymodbus 3.16.1 sent to 2B/0E/01 and 2B/0E/02 for unit 0 (captured in the lab).
BASIC = bytes.fromhex("00070000001e002b0e0183000003000850796d6f646275730102504d0206332e31362e31")
REGULAR = bytes.fromhex(
    "000700000040002b0e0283000005000850796d6f646275730102504d0206332e31362e31"
    "040f50796d6f6462757320536572766572050f50796d6f6462757320536572766572")


def ctx_for(port: int, opts: GrabOptions) -> GrabContext:
    return GrabContext(ep=Endpoint(HOST, port), opts=opts, result=GrabResult())


def test_request_bytes() -> None:
    # MBAP: tid, protocol 0, length 5 (unit + 4 PDU bytes), unit; PDU 2B 0E code object
    assert device_id_request(0x1234, 0, 1) == bytes.fromhex("123400000005002b0e0100")
    assert device_id_request(1, 255, 2, 4) == bytes.fromhex("000100000005ff2b0e0204")


def test_parse_captured_replies() -> None:
    unit, pdu = parse_frame(BASIC, 7)
    r = parse_device_id(pdu)
    assert unit == 0 and r["conformity"] == 0x83 and not r["more"]
    assert r["objects"] == {0: "Pymodbus", 1: "PM", 2: "3.16.1"}
    r2 = parse_device_id(parse_frame(REGULAR)[1])
    section = section_from(0, r2["objects"], r2["conformity"])
    assert section == {"unit_id": 0, "conformity_level": 0x83, "vendor_name": "Pymodbus",
                       "product_code": "PM", "revision": "3.16.1",
                       "product_name": "Pymodbus Server", "model_name": "Pymodbus Server"}
    assert frame_complete(BASIC) and not frame_complete(BASIC[:-1])
    assert frame_complete(b"HTTP/1.1 400")  # not MBAP: stop reading at once


def test_exceptions_and_garbage() -> None:
    assert parse_device_id(b"\xab\x01") == {"exception": 1,
                                            "exception_text": "illegal function"}
    assert parse_device_id(b"\xab\x0b")["exception_text"].startswith("gateway target")
    bad_frames = [b"", BASIC[:8], b"HTTP/1.1 400 Bad\r\n", b"\x00\x07\x00\x00\x00\xff\x00\x2b",
                  b"\x00\x07\x00\x00\x00\x01\x00\x2b\x0e"]
    for bad in bad_frames:
        with pytest.raises(ProtocolError):
            parse_frame(bad)
    with pytest.raises(ProtocolError):
        parse_frame(BASIC, 8)  # another transaction's reply
    for pdu in (b"", b"\xab", b"\xab\x99", b"\x03\x02\x00\x00", b"\x2b\x0e\x01\x83\x00\x00\x02"
                b"\x00\x05ab", b"\x2b\x0e\x09\x83\x00\x00\x00", b"\x2b\x0e\x01\x83\x42\x00\x00"):
        with pytest.raises(ProtocolError):
            parse_device_id(pdu)


def test_report_server_id() -> None:
    assert server_id_request(2, 1) == bytes.fromhex("000200000002" + "0111")
    assert parse_server_id(b"\x11\x03A\x00\xff") == {"server_id": "A.."}
    assert parse_server_id(b"\x91\x01") == {"exception": 1}
    for bad in (b"", b"\x11", b"\x11\x00", b"\x11\x09abc", b"\x2b\x01\x00"):
        with pytest.raises(ProtocolError):
            parse_server_id(bad)


def test_values_are_capped_and_cleaned() -> None:
    pdu = b"\x2b\x0e\x01\x01\x00\x00\x01\x00\xfa" + b"\x00A\xff" * 83 + b"\x00"
    value = parse_device_id(pdu)["objects"][0]
    assert len(value) <= 128 and "\x00" not in value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz(data: bytes) -> None:
    frame_complete(data)
    for d in (data, b"\x00\x01\x00\x00" + data):
        with contextlib.suppress(ProtocolError):
            parse_frame(d)
    for d in (data, b"\x2b\x0e\x01\x83\x00\x00" + data):
        with contextlib.suppress(ProtocolError):
            parse_device_id(d)
        with contextlib.suppress(ProtocolError):
            parse_server_id(d)


async def test_exception_proves_modbus(fast: GrabOptions) -> None:
    """A PLC that refuses MEI 0x0E for every unit is still Modbus; Report Server ID
    (0x11, read-only) is asked once instead."""
    got: list[bytes] = []

    async def plc(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            head = await r.readexactly(6)
            req = head + await r.readexactly(int.from_bytes(head[4:6], "big"))
            got.append(req)
            pdu = b"\xab\x01" if req[7] == 0x2B else b"\x11\x07PM710\x00\xff"
            w.write(req[:4] + (len(pdu) + 1).to_bytes(2, "big") + req[6:7] + pdu)
            await w.drain()

    async with serve(plc, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    m = ctx.result.sections["modbus"]
    assert ctx.result.service == "modbus" and m["exception"] == 1
    assert m["server_id"] == "PM710.."
    assert [(g[6], g[7]) for g in got] == [(0, 0x2B), (255, 0x2B), (1, 0x2B), (0, 0x11)]
    assert all(g[8:9] == b"\x0e" for g in got[:3])  # device identification only


async def test_gateway_unit_and_more_follows(fast: GrabOptions) -> None:
    """Unit 0 refused, unit 255 answers in two parts ("more follows")."""
    part1 = b"\x2b\x0e\x01\x01\xff\x02\x02\x00\x04Acme\x01\x02X1"
    part2 = b"\x2b\x0e\x01\x01\x00\x00\x01\x02\x041.02"
    replies = iter([part1, part2])
    got: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            req = await r.readexactly(11)
            got.append(req)
            pdu = b"\xab\x0a" if req[6] == 0 else next(replies)
            w.write(req[:4] + (len(pdu) + 1).to_bytes(2, "big") + req[6:7] + pdu)
            await w.drain()

    async with serve(handler, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    m = ctx.result.sections["modbus"]
    assert m["unit_id"] == 255 and m["vendor_name"] == "Acme" and m["revision"] == "1.02"
    assert got[2][9:11] == b"\x01\x02"  # the continuation asked from object 2


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(11)
        for _ in range(200):  # 20 MB if nobody stopped reading
            w.write(b"\x00" * 100_000)
            await w.drain()

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(11)
        for b in BASIC:
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
            assert "modbus" not in ctx.result.sections
            assert sum(map(len, ctx.result.responses.values())) <= fast.max_bytes


@pytest.mark.lab
async def test_lab_modbus(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "modbus")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "modbus"
    m = res.sections["modbus"]
    assert m["vendor_name"] == "Pymodbus" and m["product_name"] == "Pymodbus Server"
    assert m["revision"] == metadata.version("pymodbus") == svc.version


@pytest.mark.lab
async def test_lab_modbus_any_port(request: pytest.FixtureRequest) -> None:
    """The grabber itself does not care about the port (detection is another matter)."""
    services = request.getfixturevalue("lab")
    odd = next((s for s in services if s.service == "modbus" and s.port != 502
                and s.running), None)
    if odd is None:
        pytest.skip("no Modbus lab service on a non-standard port")
    ctx = GrabContext(ep=Endpoint(odd.ip, odd.port), opts=GrabOptions(), result=GrabResult())
    assert await probe(ctx) == Outcome.POSITIVE
    assert ctx.result.sections["modbus"]["revision"] == odd.version
