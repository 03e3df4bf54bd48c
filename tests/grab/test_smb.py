import asyncio
import contextlib
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs import ntlm
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import smb
from netatlas.model import Endpoint, GrabResult
from tests.labsvc import lab_named

from .conftest import serve

HOST = "127.20.14.201"  # fake servers: inside this helper's lab net, off the catalogue

# Captured from Samba 4.17.12 (Debian 12), the lab's smbd: NEGOTIATE response (3.1.1),
# the SESSION_SETUP reply carrying the NTLMSSP CHALLENGE, the anonymous logon's reply and
# the answer to an SMB1 NEGOTIATE offering only "NT LM 0.12" (refused: 0xFFFF).
NEGOTIATE_RSP = bytes.fromhex(
    "0000011cfe534d4240000000000000000000010001000000000000000000000000000000fffe0000"
    "000000000000000000000000000000000000000000000000000000004100010011030300766d0000"
    "0000000000000000000000000f000000000080000000800000008000007aecdcdf7fdd0100000000"
    "0000000080004a00d0000000604806062b0601050502a03e303ca00e300c060a2b06010401823702"
    "020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f"
    "69676e6f72650000000000000100260000000000010020000100b2c09eab4ca440449f36e9f101d4"
    "f76c3d8ec4693ec1fa9e92db47a8a0959724000002000400000000000100020000000000080004000"
    "000000001000200")
CHALLENGE_RSP = bytes.fromhex(
    "000000ccfe534d4240000000160000c00100010001000000000000000100000000000000fffe0000"
    "00000000fc4b6ec500000000000000000000000000000000000000000900000048008400a1818130"
    "7fa0030a0101a10c060a2b06010401823702020aa26a04684e544c4d5353500002000000040004003"
    "800000005828aa2cfa7d4cccb59dbce00000000000000002c002c003c000000060100000000000f56"
    "004d000200040056004d000100040056004d00040000000300040076006d00070008001863dcfadf7"
    "fdd0100000000")
GRANTED_RSP = bytes.fromhex(
    "00000051fe534d42400000000000000001001f0001000000000000000200000000000000fffe0000"
    "00000000fc4b6ec500000000000000000000000000000000000000000900000048000900a1073005"
    "a0030a0100")
SMB1_REFUSED = bytes.fromhex(
    "00000025ff534d4272000000008803c0000000000000000000000000fffffffe0000000001ffff0000")


def test_negotiate_request_layout() -> None:
    req = smb.negotiate_request(b"G" * 16, b"S" * 32)
    assert smb.frame_complete(req)
    msg = smb.unframe(req)
    assert msg[:4] == b"\xfeSMB" and struct.unpack_from("<HH", msg, 4)[0] == 64
    size, count, secmode = struct.unpack_from("<HHH", msg, 64)
    assert (size, count, secmode) == (36, 5, 1)  # signing enabled, not required
    dialects = struct.unpack_from("<5H", msg, 100)
    assert dialects == (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
    ctx_off, ctx_count = struct.unpack_from("<IH", msg, 64 + 28)
    assert ctx_off % 8 == 0 and ctx_count == 3
    assert struct.unpack_from("<HH", msg, ctx_off) == (1, 38)  # pre-auth integrity first
    assert msg[ctx_off + 14 : ctx_off + 46] == b"S" * 32


def test_parse_negotiate_response_samba() -> None:
    out = smb.parse_negotiate_response(smb.unframe(NEGOTIATE_RSP))
    assert out["dialect"] == "3.1.1" and out["dialect_code"] == 0x311
    assert out["signing_enabled"] is True and out["signing_required"] is False
    assert out["capabilities"] == ["DFS", "LEASING", "LARGE_MTU", "MULTI_CHANNEL"]
    assert out["max_read_size"] == 8 * 1024 * 1024
    assert out["system_time"].startswith("2026-") and out["server_start_time"] is None
    assert out["security_mechanisms"] == ["NTLMSSP"]
    assert out["encryption_cipher"] == "AES-128-GCM" and out["signing_algorithm"] == "AES-GMAC"
    # Samba puts its lower-case NetBIOS name ("vm") into the server GUID
    assert out["server_guid"] == "00006d76-0000-0000-0000-000000000000"


def test_session_setup_challenge_and_grant() -> None:
    head, _flags, blob = smb.parse_session_setup(smb.unframe(CHALLENGE_RSP))
    assert smb.status_name(head["status"]) == "STATUS_MORE_PROCESSING_REQUIRED"
    assert head["session_id"] == 0xC56E4BFC
    info = ntlm.parse_challenge(ntlm.find_challenge(blob))
    assert info["os_version"] == "6.1.0" and info["ntlm_revision"] == 15
    assert info["netbios_computer"] == "VM" and info["netbios_domain"] == "VM"
    assert info["dns_computer"] == "vm" and info["dns_domain"] == ""
    assert info["target_name"] == "VM" and info["timestamp"].startswith("2026-")
    head, flags, _ = smb.parse_session_setup(smb.unframe(GRANTED_RSP))
    assert smb.session_verdict(head, flags) == {"status": "STATUS_SUCCESS", "granted": True,
                                                "flags": []}
    denied = bytearray(smb.unframe(GRANTED_RSP))
    denied[8:12] = struct.pack("<I", 0xC0000022)
    head, flags, _ = smb.parse_session_setup(bytes(denied))
    assert smb.session_verdict(head, flags) == {"status": "STATUS_ACCESS_DENIED",
                                                "granted": False}


def test_anonymous_authenticate_is_empty() -> None:
    msg = ntlm.anonymous_authenticate(0xE2088297)
    assert msg.startswith(b"NTLMSSP\x00\x03\x00\x00\x00")
    lm = struct.unpack_from("<HHI", msg, 12)
    assert lm[0] == 1 and msg[lm[2]] == 0  # LmChallengeResponse = Z(1)
    for at in (20, 28, 36, 44, 52):  # NT response, domain, user, workstation, key
        assert struct.unpack_from("<H", msg, at)[0] == 0
    flags = struct.unpack_from("<I", msg, 60)[0]
    assert flags & ntlm.ANONYMOUS and not flags & 0x40000000  # no key exchange
    token = ntlm.spnego_init(ntlm.negotiate_message())
    assert token[0] == 0x60 and ntlm.NTLMSSP_OID in token and b"NTLMSSP\x00\x01" in token


def test_smb1_negotiate() -> None:
    req = smb.unframe(smb.smb1_negotiate_request())
    assert req[:5] == b"\xffSMBr" and req.endswith(b"\x02LANMAN2.1\x00\x02NT LM 0.12\x00")
    assert smb.parse_smb1_negotiate(smb.unframe(SMB1_REFUSED)) == {"accepted": False}
    # An SMB1 server accepting NT LM 0.12, no extended security: challenge + names
    words = struct.pack("<HBHHIIIIQhB", 5, 0x03, 50, 1, 16644, 65536, 0, 0xE3FD,
                        133000000000000000, 0, 8)
    names = "WORKGROUP\0OLDBOX\0".encode("utf-16-le")
    data = b"\x11" * 8 + names
    header = struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", 0x72, 0, 0x88, 0xC001, 0,
                         b"\x00" * 8, 0, 0, 0xFEFF, 0, 0)
    msg = header + b"\x11" + words + struct.pack("<H", len(data)) + data
    out = smb.parse_smb1_negotiate(msg)
    assert out["accepted"] is True and out["dialect"] == "NT LM 0.12"
    assert out["signing_enabled"] is False
    assert out["domain"] == "WORKGROUP" and out["server"] == "OLDBOX"
    assert out["system_time"].startswith("2022-")


def test_netbios_session_request() -> None:
    req = smb.session_request()
    assert req[:4] == b"\x81\x00\x00\x44"
    assert req[4:38] == b"\x20CKFDENECFDEFFCFGEFFCCACACACACACA\x00"  # *SMBSERVER<20>


def test_framing_refuses_bad_messages() -> None:
    assert not smb.frame_complete(b"\x00\x00\x00\x10abc")
    assert smb.frame_complete(b"HTTP/1.1 400")
    for bad in (b"", b"\x00\x00", b"\x85\x00\x00\x00", b"\x00\xff\xff\xff" + b"x" * 10,
                b"\x00\x00\x00\x08abc"):
        with pytest.raises(ProtocolError):
            smb.unframe(bad)
    with pytest.raises(ProtocolError):  # a request, not a response
        smb.parse_negotiate_response(smb.unframe(smb.negotiate_request()))
    with pytest.raises(ProtocolError):
        smb.parse_negotiate_response(smb.unframe(NEGOTIATE_RSP)[:100])
    with pytest.raises(ProtocolError):
        ntlm.find_challenge(b"no token here")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz(data: bytes) -> None:
    neg = smb.unframe(NEGOTIATE_RSP)
    chal = ntlm.find_challenge(smb.parse_session_setup(smb.unframe(CHALLENGE_RSP))[2])
    smb.frame_complete(data)
    for d in (data, neg[:64] + data, neg[: len(data) % len(neg)] + data):
        for parse in (smb.parse_negotiate_response, smb.parse_session_setup,
                      smb.parse_smb1_negotiate):
            with contextlib.suppress(ProtocolError):
                parse(d)
    for d in (data, chal[:32] + data, b"NTLMSSP\x00\x02\x00\x00\x00" + data):
        with contextlib.suppress(ProtocolError):
            ntlm.parse_challenge(d)
    ntlm.av_pairs(data)
    ntlm.spnego_mechs(data)


# -- hostile servers ------------------------------------------------------------------

async def _probe(port: int, opts: GrabOptions, host: str = HOST
                 ) -> tuple[str, GrabResult, float]:
    ctx = GrabContext(Endpoint(host, port), opts, GrabResult())
    t0 = time.monotonic()
    try:
        outcome = await smb.probe(ctx)
    finally:
        ctx.abort_all()
    return outcome, ctx.result, time.monotonic() - t0


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async def garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(1024)
        w.write(b"\x00\xff\xff\xff" + b"\xfeSMB" * 5000)  # claims 16 MB, sends 20 kB
        await w.drain()
        await asyncio.sleep(60)

    async def truncated(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(1024)
        w.write(NEGOTIATE_RSP[:90])  # half a reply, then hang up
        await w.drain()

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(1024)
        for b in NEGOTIATE_RSP:
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(0.5)

    for handler, want in ((tarpit, Outcome.SILENT), (garbage, Outcome.NEGATIVE),
                          (truncated, Outcome.NEGATIVE), (drip, Outcome.NEGATIVE)):
        async with serve(handler, HOST) as port:
            outcome, result, _ = await _probe(port, fast)
        assert outcome == want, handler.__name__  # the deadline held (the drip: cut)
        assert "smb" not in result.sections


async def test_negotiate_only_server(fast: GrabOptions) -> None:
    """A server that negotiates and then hangs up on SESSION_SETUP: the negotiate facts
    are kept, the session is left unknown (no claim either way)."""
    async def server(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first = await r.readexactly(4)
        if first[:1] != b"\x00":
            return
        body = await r.readexactly(int.from_bytes(first[1:4], "big"))
        if body[:4] == b"\xffSMB":  # our SMB1 probe: refuse it
            w.write(SMB1_REFUSED)
        else:
            w.write(NEGOTIATE_RSP)
        await w.drain()
        await r.read(4096)  # the SESSION_SETUP: hang up

    async with serve(server, HOST) as port:
        outcome, result, _ = await _probe(port, fast)
    assert outcome == Outcome.POSITIVE
    section = result.sections["smb"]
    assert section["dialect"] == "3.1.1" and "null_session" not in section
    assert section["smb1"] is False


# -- the lab's real Samba -------------------------------------------------------------


@pytest.mark.lab
async def test_lab_samba_guest(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "smb")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "microsoft-ds"
    smb_ = res.sections["smb"]
    print(smb_)
    assert smb_["protocol"] == "SMB2" and smb_["dialect"] == "3.1.1"
    assert smb_["signing_enabled"] is True and smb_["signing_required"] is False
    assert smb_["null_session"] is True and smb_["session"]["status"] == "STATUS_SUCCESS"
    assert smb_["ntlm"]["os_version"] == "6.1.0"
    assert smb_["ntlm"]["netbios_computer"] == "LABGUEST"
    assert smb_["smb1"] is False  # Samba 4.17: server min protocol = SMB2_02


@pytest.mark.lab
async def test_lab_samba_strict(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "smb-strict")
    ctx = GrabContext(Endpoint(svc.ip, svc.port), GrabOptions(), GrabResult())
    try:
        assert await smb.probe(ctx) == Outcome.POSITIVE  # an unhinted port: the probe itself
    finally:
        ctx.abort_all()
    smb_ = ctx.result.sections["smb"]
    print(smb_)
    assert smb_["signing_required"] is True
    assert smb_["null_session"] is False
    assert smb_["session"] == {"status": "STATUS_ACCESS_DENIED", "granted": False}
    assert smb_["ntlm"]["netbios_computer"] == "LABSTRICT"


async def test_port_139_session_request(fast: GrabOptions) -> None:
    """On 139 the NetBIOS session service wants a SESSION REQUEST before any SMB."""
    host = "127.20.14.204"
    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await r.readexactly(4)
            body = await r.readexactly(int.from_bytes(head[2:4], "big"))
            seen.append(head + body)
            if head[0] != 0x81:
                return
            w.write(b"\x82\x00\x00\x00")
            head = await r.readexactly(4)
            body = await r.readexactly(int.from_bytes(head[1:4], "big"))
            w.write(SMB1_REFUSED if body.startswith(b"\xffSMB") else NEGOTIATE_RSP)
            await w.drain()
            await r.read(4096)
        finally:
            w.transport.abort()

    server = await asyncio.start_server(handler, host, 139)
    try:
        outcome, result, _ = await _probe(139, fast, host)
    finally:
        server.close()
        await server.wait_closed()
    assert outcome == Outcome.POSITIVE and result.service == "netbios-ssn"
    assert result.sections["smb"]["dialect"] == "3.1.1"
    assert seen and all(s == smb.session_request() for s in seen)


@pytest.mark.lab
async def test_lab_samba_legacy_smb1_on_139(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "smb-legacy")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "netbios-ssn"  # through a NetBIOS SESSION REQUEST
    smb_ = res.sections["smb"]
    print(smb_)
    assert smb_["protocol"] == "SMB2" and smb_["null_session"] is True
    assert smb_["smb1"] is True and smb_["smb1_dialect"] == "NT LM 0.12"
    assert smb_["smb1_negotiate"]["server"] == "LABLEGACY"
    assert smb_["smb1_negotiate"]["domain"] == "NETATLAS"


async def test_not_smb_costs_one_connection(fast: GrabOptions) -> None:
    connections: list[int] = []

    async def http_server(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        connections.append(1)
        await r.read(1024)
        w.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await w.drain()

    async with serve(http_server, HOST) as port:
        outcome, result, _ = await _probe(port, fast)
    assert outcome == Outcome.NEGATIVE and "smb" not in result.sections
    assert len(connections) == 1  # no SMB1 attempt after a reply that is not SMB at all
