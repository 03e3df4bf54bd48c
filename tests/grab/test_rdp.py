import asyncio
import contextlib
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import rdp
from netatlas.model import Endpoint, GrabResult
from tests.labsvc import lab_service

from .conftest import Handler, serve

HOST = "127.20.14.202"

# Captured from xrdp 0.9.21.1 (the lab's): the Connection Confirm to TLS|CredSSP|RDSTLS
# (it picks TLS) and to standard RDP security alone (it accepts).
XRDP_TLS = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x01\x08\x00\x01\x00\x00\x00"
XRDP_RDP = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x01\x08\x00\x00\x00\x00\x00"
# Windows 10 picking CredSSP (nmap-service-probes quotes it), and its refusals.
WIN_HYBRID = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x1f\x08\x00\x02\x00\x00\x00"


def failure(code: int) -> bytes:
    return b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x03\x00\x08\x00" + struct.pack("<I", code)


def test_connection_request() -> None:
    req = rdp.connection_request(rdp.FIRST_REQUEST)
    assert req == b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x07\x00\x00\x00"
    assert rdp.connection_request(rdp.RDP)[-4:] == b"\x00\x00\x00\x00"
    assert rdp.protocol_names(rdp.FIRST_REQUEST) == ["SSL", "HYBRID", "RDSTLS"]


def test_parse_confirm() -> None:
    x = rdp.parse_confirm(XRDP_TLS)
    assert x == {"x224_src_ref": "0x1234", "selected": "SSL", "selected_code": 1,
                 "flags": ["EXTENDED_CLIENT_DATA_SUPPORTED"], "rsp_flags": "0x01",
                 "signature": "0x1234/0x01/SSL"}
    assert rdp.parse_confirm(XRDP_RDP)["selected"] == "RDP"
    w = rdp.parse_confirm(WIN_HYBRID)
    assert w["selected"] == "HYBRID" and w["signature"] == "0x1234/0x1f/HYBRID"
    assert "RESTRICTED_ADMIN_MODE_SUPPORTED" in w["flags"]
    f = rdp.parse_confirm(failure(5))
    assert f["failure"] == "HYBRID_REQUIRED_BY_SERVER" and "selected" not in f
    old = rdp.parse_confirm(b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x124\x00")  # Windows XP
    assert old["selected"] == "RDP" and old["negotiation"] is False
    assert rdp.parse_confirm(b"\x03\x00\x00\x09\x02\xf0\x80!\x80") == {"disconnect": True}
    for bad in (b"", b"\x03\x00\x00", b"HTTP/1.1 400 Bad", b"\x03\x00\xff\xff" + b"\0" * 20,
                b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x01\x09\x00\x01\x00\x00\x00",
                b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00", XRDP_TLS[:15]):
        with pytest.raises(ProtocolError):
            rdp.parse_confirm(bad)
    assert rdp.tpkt_complete(XRDP_TLS) and not rdp.tpkt_complete(XRDP_TLS[:10])
    assert rdp.tpkt_complete(b"SSH-2.0")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz(data: bytes) -> None:
    rdp.tpkt_complete(data)
    for d in (data, XRDP_TLS[:11] + data, b"\x03\x00" + data):
        with contextlib.suppress(ProtocolError):
            rdp.parse_confirm(d)


def _server(answers: dict[int, bytes]) -> Handler:
    """A fake RDP server answering each requested-protocols mask from ``answers``."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        req = await r.readexactly(19)
        mask = struct.unpack_from("<I", req, 15)[0]
        if mask not in answers:
            return  # hang up
        w.write(answers[mask])
        await w.drain()
        await r.read(1)  # a TLS ClientHello: hang up on it

    return handler


async def _probe(port: int, opts: GrabOptions) -> tuple[str, GrabResult, float]:
    ctx = GrabContext(Endpoint(HOST, port), opts, GrabResult())
    t0 = time.monotonic()
    try:
        outcome = await rdp.probe(ctx)
    finally:
        ctx.abort_all()
    return outcome, ctx.result, time.monotonic() - t0


@pytest.mark.parametrize(("answers", "standard", "nla"), [
    # Windows with NLA required: CredSSP picked, standard security refused
    ({7: WIN_HYBRID, 0: failure(5)}, False, True),
    # TLS demanded for standard security, and CredSSP demanded for TLS
    ({7: WIN_HYBRID, 0: failure(1), 1: failure(5)}, False, True),
    # a server that only ever answers the first request: what it needs stays unknown
    ({7: WIN_HYBRID}, None, None),
    # xrdp: picks TLS, accepts standard security
    ({7: XRDP_TLS, 0: XRDP_RDP}, True, False),
    # a server that demands CredSSP outright
    ({7: failure(5)}, None, True),
])
async def test_nla_verdict(fast: GrabOptions, answers: dict[int, bytes], standard: bool | None,
                           nla: bool | None) -> None:
    async with serve(_server(answers), HOST) as port:
        outcome, result, _ = await _probe(port, fast)
    assert outcome == Outcome.POSITIVE
    section = result.sections["rdp"]
    assert section.get("standard_rdp") is standard
    assert section.get("nla_required") is nla


async def test_windows_tls_only_accepted(fast: GrabOptions) -> None:
    ssl_ok = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x1f\x08\x00\x01\x00\x00\x00"
    async with serve(_server({7: WIN_HYBRID, 0: failure(1), 1: ssl_ok}), HOST) as port:
        _, result, _ = await _probe(port, fast)
    section = result.sections["rdp"]
    assert section["nla_required"] is False and section["standard_rdp"] is False
    assert section["standard_rdp_failure"] == "SSL_REQUIRED_BY_SERVER"
    assert "tls_error" in section  # the fake server hung up on the handshake


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(64)
        w.write(b"\x03\x00\xff\xff" + b"A" * 100_000)
        await w.drain()
        await asyncio.sleep(60)

    async def text(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(64)
        w.write(b"HTTP/1.1 400 Bad Request\r\n\r\n\xff\x00")
        await w.drain()

    for handler, want in ((tarpit, Outcome.SILENT), (flood, Outcome.NEGATIVE),
                          (text, Outcome.NEGATIVE)):
        async with serve(handler, HOST) as port:
            outcome, result, _ = await _probe(port, fast)
        assert outcome == want, handler.__name__  # the tarpit: SILENT, the deadline held
        assert "rdp" not in result.sections


@pytest.mark.lab
async def test_lab_xrdp(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "ms-wbt-server")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "ms-wbt-server"
    section = res.sections["rdp"]
    print(section)
    assert section["selected"] == "SSL" and section["tls"] is True
    assert section["standard_rdp"] is True and section["nla_required"] is False
    assert res.sections["ssl"]["cert"]["subject"]  # the lab's certificate, read over RDP
    assert res.tls is False  # TLS came after the X.224 exchange, not from the first byte
