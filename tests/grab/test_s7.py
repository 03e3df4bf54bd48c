import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.s7 import (
    cotp_cr,
    parse_component_id,
    parse_cotp_cc,
    parse_module_id,
    parse_s7,
    parse_setup,
    probe,
    read_szl,
    setup_communication,
    tpkt,
    tpkt_complete,
)
from netatlas.model import Endpoint, GrabResult
from tests.labsvc import lab_service

from .conftest import serve

HOST = "127.20.15.211"
# What python-snap7 3.3.0's server sent (captured in the lab).
CC = bytes.fromhex("0300001611d00014000100c0010ac1020100c2020102")
SETUP_ACK = bytes.fromhex("0300001b02f080320300000000000800000000f0000001000101e0")
SZL_11 = bytes.fromhex(
    "0300004302f080320700000000000c0026000112081284010000000000ff09002200110000001a0001"
    "000136455337203331352d32454831342d304142300000030300")
SZL_1C = bytes.fromhex(
    "030000f702f080320700000000000c00da000112081284010000000000ff0900d6001c00000000000000"
    "00534e4150372d5345525645520000000000000000000000000000000000000000000043505520333135"
    "2d3220504e2f445000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000004f726967696e616c205369656d656e732045717569706d"
    "656e7400000000000000005320432d433255523238393232303132000000000000000000000000000000"
    "000000435055203331352d3220504e2f445000000000000000000000000000000000000000")


def szl_reply(szl_id: int, size: int, records: list[bytes]) -> bytes:
    """An SZL read response as a real CPU frames it (record length and count set)."""
    body = struct.pack(">HHHH", szl_id, 0, size, len(records)) + b"".join(records)
    data = b"\xff\x09" + len(body).to_bytes(2, "big") + body
    params = b"\x00\x01\x12\x08\x12\x84\x01\x01\x00\x00\x00\x00"
    header = struct.pack(">BBHHHH", 0x32, 7, 0, 2, len(params), len(data))
    return tpkt(b"\x02\xf0\x80" + header + params + data)


def test_requests() -> None:
    # s7-info's first COTP CR: class 0, TPDU size 1024, TSAPs 0x0100 -> 0x0102
    cr = cotp_cr(0x0100, 0x0102)
    assert cr[:4] == b"\x03\x00\x00\x16" and cr[5] == 0xE0
    assert b"\xc1\x02\x01\x00" in cr and b"\xc2\x02\x01\x02" in cr
    assert setup_communication().hex() == "0300001902f08032010000000100080000f0000001000101e0"
    assert read_szl(0x1C).hex().endswith("0001120411440100ff090004001c0000")


def test_parse_captured_snap7() -> None:
    assert parse_cotp_cc(CC) == {"src_tsap": 0x0100, "dst_tsap": 0x0102}
    assert parse_setup(SETUP_ACK) == 480
    assert parse_module_id(SZL_11) == {"order_code": "6ES7 315-2EH14-0AB0",
                                       "module_version": "3.3.0", "firmware_version": "3.3.0"}
    # snap7 leaves the record indexes 0: taken in the order real CPUs list them
    assert parse_component_id(SZL_1C) == {
        "system_name": "SNAP7-SERVER", "module_name": "CPU 315-2 PN/DP",
        "copyright": "Original Siemens Equipment", "serial_number": "S C-C2UR28922012",
        "module_type": "CPU 315-2 PN/DP"}
    assert tpkt_complete(SZL_1C) and not tpkt_complete(SZL_1C[:-1])


def test_parse_indexed_records() -> None:
    """A CPU that numbers its records: fields by index, whatever their order."""
    def rec(index: int, text: bytes) -> bytes:
        return index.to_bytes(2, "big") + text.ljust(32, b"\x00")

    reply = szl_reply(0x1C, 34, [rec(7, b"CPU 1214C DC/DC/DC"), rec(1, b"S71200/ET200MP"),
                                 rec(3, b"plant 4"), rec(5, b"S V-123")])
    assert parse_component_id(reply) == {"module_type": "CPU 1214C DC/DC/DC",
                                         "system_name": "S71200/ET200MP",
                                         "plant_id": "plant 4", "serial_number": "S V-123"}

    def mod(index: int, mlfb: bytes, version: bytes) -> bytes:
        return index.to_bytes(2, "big") + mlfb.ljust(20, b" ") + b"\x00\x00" + version

    reply = szl_reply(0x11, 28, [mod(1, b"6ES7 214-1AG40-0XB0", b"\x00\x05\x00\x00"),
                                 mod(6, b"6ES7 214-1AG40-0XB0", b"\x00\x05\x00\x00"),
                                 mod(7, b"", b"V\x04\x02\x01")])
    m = parse_module_id(reply)
    assert m["order_code"] == "6ES7 214-1AG40-0XB0" and m["firmware_version"] == "4.2.1"


def test_refusals_and_garbage() -> None:
    with pytest.raises(ProtocolError):
        parse_cotp_cc(tpkt(b"\x06\x80\x00\x00\x00\x01\x00"))  # a disconnect request
    with pytest.raises(ProtocolError):  # ack with error class 0x85
        parse_s7(tpkt(b"\x02\xf0\x80\x32\x03\x00\x00\x00\x01\x00\x00\x00\x00\x85\x00"))
    refused = bytearray(SZL_11)
    refused[29] = 0x0A  # data item return code: object does not exist
    with pytest.raises(ProtocolError):
        parse_module_id(bytes(refused))
    with pytest.raises(ProtocolError):
        parse_module_id(SZL_1C)  # another SZL than asked
    for bad in (b"", b"HTTP/1.1 400\r\n", b"\x03\x00\x00\x02", b"\x03\x00\xff\xff\x02\xf0",
                SZL_1C[:40]):
        for parse in (parse_cotp_cc, parse_setup, parse_component_id):
            with pytest.raises(ProtocolError):
                parse(bad)


def test_texts_are_capped() -> None:
    reply = szl_reply(0x1C, 1002, [b"\x00\x01" + b"A" * 1000])
    assert len(parse_component_id(reply)["system_name"]) <= 64


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz(data: bytes) -> None:
    tpkt_complete(data)
    for d in (data, tpkt(data), tpkt(b"\x02\xf0\x80\x32\x07" + data)):
        for parse in (parse_cotp_cc, parse_setup, parse_module_id, parse_component_id):
            with contextlib.suppress(ProtocolError):
                parse(d)


def ctx_for(port: int, opts: GrabOptions) -> GrabContext:
    return GrabContext(ep=Endpoint(HOST, port), opts=opts, result=GrabResult())


async def test_second_tsap_and_only_reads(fast: GrabOptions) -> None:
    """Refuses rack 0 slot 2; accepts the second TSAP pair; every request is a read."""
    got: list[bytes] = []

    async def plc(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            head = await r.readexactly(4)
            req = head + await r.readexactly(int.from_bytes(head[2:4], "big") - 4)
            got.append(req)
            if req[5] == 0xE0:
                if b"\xc2\x02\x01\x02" in req:
                    w.write(tpkt(b"\x06\x80\x00\x00\x00\x01\x00"))  # DR
                    await w.drain()
                    return
                w.write(CC)
            elif req[8] == 0x01:
                w.write(SETUP_ACK)
            else:
                w.write(SZL_11 if req[-4:-2] == b"\x00\x11" else SZL_1C)
            await w.drain()

    async with serve(plc, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    s = ctx.result.sections["s7"]
    assert s["s7comm"] is True and s["dst_tsap"] == "0x0200"
    assert s["module_type"] == "CPU 315-2 PN/DP" and s["order_code"].startswith("6ES7")
    jobs = [g for g in got if g[5] == 0xF0]
    assert [g[8] for g in jobs] == [0x01, 0x07, 0x07]  # setup, then two user-data reads
    assert all(g[-8:-4] == b"\xff\x09\x00\x04" for g in jobs[1:])  # SZL reads only


async def test_cotp_only_is_iso_tsap_not_s7(fast: GrabOptions) -> None:
    async def iso(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(22)
        w.write(CC)
        await w.drain()
        await r.read(100)
        w.write(tpkt(b"\x02\xf0\x80junk that is not S7"))
        await w.drain()
        await asyncio.sleep(5)

    async with serve(iso, HOST) as port:
        ctx = ctx_for(port, fast)
        assert await probe(ctx) == Outcome.POSITIVE
    assert ctx.result.service == "iso-tsap"
    assert ctx.result.sections["s7"]["s7comm"] is False


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(22)
        for _ in range(200):
            w.write(b"\x03\x00\xff\xff" + b"\x00" * 100_000)
            await w.drain()

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(22)
        for b in CC:
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(1)

    for handler, want in ((tarpit, Outcome.SILENT), (flood, Outcome.NEGATIVE),
                          (drip, Outcome.NEGATIVE)):
        async with serve(handler, HOST) as port:
            ctx = ctx_for(port, fast)
            # the outcome is the bound: without a read deadline the tarpit would end in
            # EOF after 30 s (not SILENT) and the drip would complete (POSITIVE)
            assert await probe(ctx) == want, handler.__name__
            assert "s7" not in ctx.result.sections


@pytest.mark.lab
async def test_lab_s7(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "iso-tsap")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "iso-tsap"
    s = res.sections["s7"]
    assert s["s7comm"] is True and s["system_name"] == "SNAP7-SERVER"
    assert s["module_type"] and s["order_code"] and s["pdu_size"] > 0


@pytest.mark.lab
async def test_lab_s7_any_port(request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue("lab")
    odd = next((s for s in services if s.service == "iso-tsap" and s.port != 102
                and s.running), None)
    if odd is None:
        pytest.skip("no S7 lab service on a non-standard port")
    ctx = GrabContext(ep=Endpoint(odd.ip, odd.port), opts=GrabOptions(), result=GrabResult())
    assert await probe(ctx) == Outcome.POSITIVE
    assert ctx.result.sections["s7"]["system_name"] == "SNAP7-SERVER"
