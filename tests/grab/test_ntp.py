"""NTP: mode-3 and mode-6 parsers on captured bytes (the lab's chrony 4.3; ntpsec 1.2.2's
READVAR answer), hostile replies, and the real lab chrony."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import ntp
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult

from . import udpserver
from .udpserver import HOST, MAX_DATAGRAM, udp_server

udp_lab = udpserver.udp_lab  # the UDP part of the lab only

# chrony 4.3 with `local stratum 10`, answering our mode-3 request
CHRONY = bytes.fromhex(
    "240a06e700000000000000007f7f0101eeb6697acb8cfedaeeb6697c88cfb64eeeb6697c9d1bfff7eeb6697c"
    "9d22786c")
# ntpsec 1.2.2 answering READVAR (sequence 5) for the system association
NTPSEC_M6 = bytes.fromhex(
    "d6820005c0160000000001596c6561703d332c207374726174756d3d31362c20707265636973696f6e3d2d"
    "32342c20726f6f7464656c61793d302e3030302c20726f6f74646973703d302e3031352c0d0a7265666964"
    "3d494e49542c2072656674696d653d307830303030303030302e30303030303030302c2074633d302c2070"
    "6565723d302c206f66667365743d302e3030303030302c0d0a6672657175656e63793d302e303030303030"
    "2c207379735f6a69747465723d302e3030303030302c20636c6b5f6a69747465723d302e30303030363"
    "02c0d0a636c6f636b3d307865656236363764642e37323032653936352c2070726f636573736f723d2278"
    "38365f3634222c0d0a73797374656d3d224c696e75782f362e31382e34342d66632d76363537222c2076"
    "657273696f6e3d226e747064206e74707365632d312e322e32222c0d0a636c6b5f77616e6465723d302e"
    "3030303030302c206d696e74633d300d0a000000")


def test_parse_chrony_reply() -> None:
    out = ntp.parse_reply(CHRONY, CHRONY[24:32])
    assert (out["version"], out["mode"], out["stratum"]) == (4, 4, 10)
    assert out["refid"] == "127.127.1.1" and out["precision"] == -25
    assert out["reference_time"].startswith("2026-")
    with pytest.raises(ProtocolError, match="origin"):
        ntp.parse_reply(CHRONY, b"\x01" * 8)


def test_parse_ntpsec_readvar() -> None:
    offset, data, more = ntp.parse_control(NTPSEC_M6, 5)
    assert (offset, more) == (0, False) and len(data) == 0x159
    variables = ntp.parse_vars(ntp.assemble({offset: data}))
    assert variables["version"] == "ntpd ntpsec-1.2.2"
    assert variables["processor"] == "x86_64" and variables["stratum"] == "16"
    with pytest.raises(ProtocolError, match="sequence"):
        ntp.parse_control(NTPSEC_M6, 6)


def test_requests() -> None:
    req = ntp.client_request(b"12345678")
    assert len(req) == 48 and req[0] & 7 == 3 and req[40:] == b"12345678"
    assert ntp.readvar_request(9) == bytes.fromhex("16020009000000000000 0000".replace(" ", ""))


def test_fragments_assemble_in_order_and_stop_at_gaps() -> None:
    assert ntp.assemble({4: b"b=2,", 0: b"a=1,"}) == "a=1,b=2,"
    assert ntp.assemble({0: b"a=1,", 9: b"z=9"}) == "a=1,"  # a gap ends it


@pytest.mark.parametrize("junk", [
    b"",
    b"\x24" * 47,
    b"\x23" + bytes(47),  # mode 3: a client, not a server
    b"\x3c" + bytes(47),  # version 7
])
def test_hostile_mode3(junk: bytes) -> None:
    with pytest.raises(ProtocolError):
        ntp.parse_reply(junk)


@pytest.mark.parametrize("junk", [
    b"\x16\x82\x00\x05",
    struct.pack(">BBHHHHH", 0x16, 0x82, 5, 0, 0, 0, 4000) + b"x" * 10,  # count past end
    struct.pack(">BBHHHHH", 0x16, 0x82, 5, 0, 0, 9000, 4) + b"x" * 4,  # past the cap
    struct.pack(">BBHHHHH", 0x16, 0xC2, 5, 0, 0, 0, 0),  # error bit
    struct.pack(">BBHHHHH", 0x16, 0x02, 5, 0, 0, 0, 0),  # a request, not a response
])
def test_hostile_mode6(junk: bytes) -> None:
    with pytest.raises(ProtocolError):
        ntp.parse_control(junk, 5)


def test_vars_are_capped() -> None:
    text = ", ".join(f"v{i}={'x' * 400}" for i in range(200))
    out = ntp.parse_vars(text)
    assert len(out) == ntp.MAX_VARS and all(len(v) <= 256 for v in out.values())


async def test_endless_fragments_are_bounded() -> None:
    """A server that answers mode 3 properly, then floods mode-6 'more fragments' forever
    at 64 KiB each: the grab ends in time with at most the capped variables."""
    def reply(req: bytes) -> list[bytes]:
        if req[0] & 7 == 3:
            return [bytes([0x24, 2, 6, 0xE7]) + bytes(8) + b"\x0a\0\0\1" + bytes(8) + req[40:48]
                    + bytes(16)]
        seq = struct.unpack(">H", req[2:4])[0]
        frag = struct.pack(">BBHHHHH", 0x16, 0xA2, seq, 0, 0, 0, 1000) + b"version=x," * 100
        return [frag + b"\0" * (MAX_DATAGRAM - len(frag))] * 3

    async with udp_server(reply) as (port, _):
        res = await grab_endpoint(Endpoint(HOST, port, "udp"),
                                  GrabOptions(read_timeout=0.5, total_timeout=5))
    # not cut by total_timeout (that is io-timeout), and the answer parsed
    assert res.status == "success" and res.sections["ntp"]["stratum"] == 2
    assert res.sections["ntp"]["refid"] == "10.0.0.1"
    assert len(res.data) <= ntp.MAX_MSG


async def test_lab_chrony(udp_lab: dict[str, Any]) -> None:
    svc = udp_lab.get("ntp")
    if svc is None:
        pytest.skip("lab ntp not running")
    ep = Endpoint(svc.ip, svc.port, "udp")
    res = await grab_endpoint(ep, GrabOptions(read_timeout=1.0))
    s = res.sections["ntp"]
    assert res.status == "success" and res.service == "ntp"
    assert s["version"] == 4 and s["refid"] == "127.127.1.1"
    assert "daemon_version" not in s  # chrony does not answer mode 6
    assert b"refid: 127.127.1.1" in res.data  # the readable banner
    ident = Identifier().identify(res, ep)
    assert (ident.service, ident.product, ident.version) == ("ntp", svc.product, None)


def test_section_is_json_ready() -> None:
    r = GrabResult()
    r.sections["ntp"] = ntp.parse_reply(CHRONY)
    assert all(isinstance(v, str | int | float) for v in r.sections["ntp"].values())
    r.sections["ntp"]["variables"] = {"version": "ntpd ntpsec-1.2.2"}
    assert ntp.summary(r.sections["ntp"]).endswith(b"version: ntpd ntpsec-1.2.2")
