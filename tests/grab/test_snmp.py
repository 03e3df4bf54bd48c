"""SNMP: the BER codec and parsers on bytes captured from the lab's Net-SNMP 5.9.3, hostile
replies, and the real lab agents (community public, and one with a random community)."""

from __future__ import annotations

from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs import ber
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import snmp
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult

from . import udpserver
from .udpserver import HOST, MAX_DATAGRAM, udp_server

udp_lab = udpserver.udp_lab  # the UDP part of the lab only

# Net-SNMP 5.9.3 (lab "snmp"): v2c GET of the system group + versionTag, request-id e20296
V2C = bytes.fromhex(
    "3081f002010104067075626c6963a281e2020400e202960201000201003081d3304506082b060102010101"
    "0004394c696e757820766d20362e31382e34342d66632d7636353720233120534d5020505245454d50545f"
    "44594e414d4943204030207838365f3634301606082b06010201010200060a2b06010401bf0803020a300e"
    "06082b0601020101030043022ad9301d06082b0601020101040004116c6162406e657461746c61732e7465"
    "7374301406082b0601020101050004086c61622d736e6d70301806082b06010201010600040c6e65746174"
    "6c6173206c61623013060a2b060104018f656402000405352e392e33")
# its Report to a v3 discovery request, msgID 0x986754 (lab "snmp-private")
REPORT = bytes.fromhex(
    "30710201033011020400986754020300ffe304010002010304223020041180001f88804193ae3473ea0b6b"
    "00000000020101020200880400040004003035041180001f88804193ae3473ea0b6b000000000400a81e02"
    "0326b6020201000201003011300f060a2b060106030f01010400410103")


def test_ber_round_trip() -> None:
    for n in (0, 1, 127, 128, 255, 256, -1, -128, -129, 2**31 - 1, -(2**31)):
        item, end = ber.read_tlv(ber.integer(n))
        assert ber.as_int(item) == n and end == len(ber.integer(n))
    for dotted in ("1.3.6.1.2.1.1.1.0", "1.3.6.1.4.1.2021.100.2.0", "2.999.3"):
        assert ber.as_oid(ber.read_tlv(ber.oid(dotted))[0]) == dotted
    long = ber.octets(b"x" * 300)
    assert long[:4] == b"\x04\x82\x01\x2c" and ber.read_tlv(long)[0].value == b"x" * 300


def test_parse_v2c_response() -> None:
    parsed = snmp.parse_response(V2C, 0xE20296)
    assert parsed["version"] == snmp.V2C and parsed["community"] == "public"
    section = snmp.section_from(parsed["values"])
    assert section["sys_descr"].startswith("Linux vm ")
    assert section["sys_object_id"] == "1.3.6.1.4.1.8072.3.2.10"
    assert section["sys_uptime"] == 10969
    assert (section["sys_name"], section["sys_contact"]) == ("lab-snmp", "lab@netatlas.test")
    assert section["version_tag"] == "5.9.3"
    with pytest.raises(ProtocolError, match="request-id"):
        snmp.parse_response(V2C, 1)


def test_parse_discovery_report() -> None:
    out = snmp.parse_report(REPORT, 0x986754)
    assert out["engine_id"] == "80001f88804193ae3473ea0b6b00000000"
    assert (out["engine_enterprise"], out["engine_vendor"]) == (8072, "Net-SNMP")
    assert out["engine_format"] == "enterprise" and out["engine_boots"] == 1
    assert out["report_oid"] == "1.3.6.1.6.3.15.1.1.4.0"  # usmStatsUnknownEngineIDs
    with pytest.raises(ProtocolError):
        snmp.parse_report(V2C)
    with pytest.raises(ProtocolError):
        snmp.parse_response(REPORT)


def test_engine_id_formats() -> None:
    mac = snmp.parse_engine_id(bytes.fromhex("800000090300000c07ac01"))
    assert (mac["engine_vendor"], mac["engine_mac"]) == ("Cisco", "00:00:0c:07:ac:01")
    ipv4 = snmp.parse_engine_id(bytes.fromhex("8000000901c0a80001"))
    assert ipv4["engine_ipv4"] == "192.168.0.1"
    assert snmp.parse_engine_id(b"\x00\x00\x00\x09abc") == {"engine_id": "00000009616263"}


def test_requests_are_what_an_agent_expects() -> None:
    msg = snmp.get_request(["1.3.6.1.2.1.1.1.0"], 0x4C33A756, snmp.V1)
    top = ber.children(ber.read_tlv(msg)[0].value)
    assert ber.as_int(top[0]) == 0 and top[1].value == b"public" and top[2].tag == snmp.GET
    v3 = ber.children(ber.read_tlv(snmp.discovery_request(7, 9))[0].value)
    assert ber.as_int(v3[0]) == 3
    header = ber.children(v3[1].value)
    assert header[2].value == b"\x04"  # reportable, noAuthNoPriv
    usm = ber.children(ber.read_tlv(v3[2].value)[0].value)
    assert usm[0].value == b"" and usm[3].value == b""  # no engine, no user


@pytest.mark.parametrize("junk", [
    b"",
    b"\x30",
    b"\x30\x84\xff\xff\xff\xff",  # a length far past the datagram
    b"\x30\x03\x02\x01",  # a child running past its parent
    b"\x30\x80\x00\x00",  # indefinite length
    b"\x1f\x01\x00",  # multi-byte tag
    V2C[:-1],
    V2C + b"\x00",
    b"\x30\x82\x01\x00" + b"\x05\x00" * 128,  # too many elements
    bytes.fromhex("300c020101040670756232") + b"\xa2\x00",
])
def test_hostile_ber_raises_protocol_error(junk: bytes) -> None:
    with pytest.raises(ProtocolError):
        snmp.parse_response(junk)
    with pytest.raises(ProtocolError):
        snmp.parse_report(junk)


def test_bad_oid_and_values() -> None:
    with pytest.raises(ProtocolError):
        ber.as_oid(ber.TLV(ber.OID, b"\x2b\x86"))  # ends inside an arc
    with pytest.raises(ProtocolError):
        ber.as_oid(ber.TLV(ber.OID, b"\x2b" + b"\x81" * 6 + b"\x01"))  # arc > 32 bits
    with pytest.raises(ProtocolError):
        ber.as_oid(ber.TLV(ber.OID, b"\x2b" + b"\x01" * 200))  # too many arcs
    assert ber.value_of(ber.TLV(ber.OCTET_STRING, b"\xff\x00")) == "ff00"  # binary as hex
    assert ber.value_of(ber.TLV(snmp.ber.NO_SUCH_OBJECT, b"")) is None


async def test_garbage_and_floods_are_bounded() -> None:
    """A server answering junk BER (64 KiB datagrams, several each time) is not SNMP:
    the grab ends within its time bound and keeps nothing of the junk."""
    def flood(_: bytes) -> list[bytes]:
        return [b"\x30\x84\x00\x00\xff\xf0" + b"\xa2" * (MAX_DATAGRAM - 6)] * 3

    async with udp_server(flood) as (port, proto):
        opts = GrabOptions(read_timeout=0.5, total_timeout=5)
        res = await grab_endpoint(Endpoint(HOST, port, "udp"), opts)
    # ended by its read deadlines, not by the hard bound (which would say total_timeout)
    assert res.status == "io-timeout" and "total_timeout" not in (res.error or "")
    assert "snmp" not in res.sections
    assert res.data == b"" and proto.received


async def test_lab_public_community(udp_lab: dict[str, Any]) -> None:
    svc = udp_lab.get("snmp")
    if svc is None:
        pytest.skip("lab snmp not running")
    ep = Endpoint(svc.ip, svc.port, "udp")
    res = await grab_endpoint(ep, GrabOptions())
    s = res.sections["snmp"]
    assert res.status == "success" and res.service == "snmp"
    assert s["community_public"] is ("public-community" in svc.tags)
    assert s["version_tag"] == svc.version
    assert s["engine_enterprise"] == 8072 and s["versions"] == ["v2c", "v3"]
    assert s["sys_name"] == "snmp.lab.netatlas.test"
    ident = Identifier().identify(res, ep)
    assert (ident.service, ident.product, ident.version) == ("snmp", "Net-SNMP", svc.version)
    assert f"cpe:/a:net-snmp:net-snmp:{svc.version}" in ident.cpe
    assert "public-community" in ident.tags


async def test_lab_private_community_only_v3(udp_lab: dict[str, Any]) -> None:
    svc = udp_lab.get("snmp-private")
    if svc is None:
        pytest.skip("lab snmp-private not running")
    ep = Endpoint(svc.ip, svc.port, "udp")
    res = await grab_endpoint(ep, GrabOptions(read_timeout=1.0))
    s = res.sections["snmp"]
    assert s["community_public"] is False and s["versions"] == ["v3"]
    assert "sys_descr" not in s  # nothing readable without the community
    ident = Identifier().identify(res, ep)
    assert (ident.product, ident.version) == ("Net-SNMP", None)


def test_result_shape_is_plain_data() -> None:
    r = GrabResult()
    r.sections["snmp"] = snmp.section_from(snmp.parse_response(V2C)["values"])
    assert b"sys_descr: Linux" in snmp.summary(r.sections["snmp"])
