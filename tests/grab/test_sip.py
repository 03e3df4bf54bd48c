import asyncio
import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import sip
from netatlas.identify import Identifier
from netatlas.lab.versions import binary_version
from netatlas.model import Endpoint, GrabResult
from tests.labsvc import lab_service

from .conftest import serve

HOST = "127.20.14.203"

# Kamailio 5.6.3's answer to our OPTIONS over TCP (sl_send_reply 200).
KAMAILIO_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TCP netatlas.invalid;branch=z9hG4bK90706df086f3;rport=51420;"
    b"received=127.0.0.1\r\n"
    b"To: <sip:127.20.14.53>;tag=6d9bd4d30ba938ef1a88740dec2c40fd.ee1b0000\r\n"
    b"From: <sip:netatlas@netatlas.invalid>;tag=90706df086f3\r\n"
    b"Call-ID: 90706df086f3@netatlas\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
    b"Content-Length: 0\r\n\r\n")
# An Asterisk-style answer with compact and repeated headers and a body.
ASTERISK_200 = (
    b"SIP/2.0 200 OK\r\nv: SIP/2.0/TCP x;branch=z9hG4bKa\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS\r\nallow: BYE, REFER\r\n"
    b"k: replaces, timer\r\nUser-Agent: Asterisk PBX 18.10.0\r\n"
    b"Accept: application/sdp\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\r")


def test_options_request() -> None:
    req = sip.options_request("127.20.14.53", tag="t1", call_id="c1@x").decode()
    lines = req.split("\r\n")
    assert lines[0] == "OPTIONS sip:127.20.14.53 SIP/2.0"
    assert lines[1].startswith("Via: SIP/2.0/TCP netatlas.invalid;branch=z9hG4bK")
    assert "CSeq: 1 OPTIONS" in lines and "Call-ID: c1@x" in lines
    assert req.endswith("Content-Length: 0\r\n\r\n")
    udp = sip.options_request("::1", "UDP", "127.0.0.1", 40000).decode()
    assert udp.startswith("OPTIONS sip:[::1] SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;")


def test_parse_response() -> None:
    k = sip.parse_response(KAMAILIO_200)
    assert k == {"version": "2.0", "status": 200, "reason": "OK",
                 "server": "kamailio (5.6.3 (x86_64/linux))"}
    a = sip.parse_response(ASTERISK_200)
    assert a["allow"] == ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE", "REFER"]
    assert a["supported"] == ["replaces", "timer"] and a["accept"] == ["application/sdp"]
    assert a["user_agent"] == "Asterisk PBX 18.10.0"
    assert sip.parse_response(b"SIP/2.0 403 Forbidden\r\nServer: x")["truncated"] is True
    for bad in (b"", b"HTTP/1.1 200 OK\r\n\r\n", b"SIP/2.0 20 OK\r\n", b"\xff\x00SIP/2.0"):
        with pytest.raises(ProtocolError):
            sip.parse_response(bad)
    assert sip.response_complete(KAMAILIO_200)
    assert not sip.response_complete(ASTERISK_200[:-2])  # the body is not all in
    assert sip.response_complete(ASTERISK_200) and sip.response_complete(b"HTTP/1.1")
    assert not sip.response_complete(b"SIP/2.0 200 OK\r\n")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz(data: bytes) -> None:
    for d in (data, b"SIP/2.0 200 OK\r\n" + data, KAMAILIO_200[:60] + data):
        sip.response_complete(d)
        with contextlib.suppress(ProtocolError):
            sip.parse_response(d)


async def _probe(port: int, opts: GrabOptions) -> tuple[str, GrabResult, float]:
    ctx = GrabContext(Endpoint(HOST, port), opts, GrabResult())
    t0 = time.monotonic()
    try:
        outcome = await sip.probe(ctx)
    finally:
        ctx.abort_all()
    return outcome, ctx.result, time.monotonic() - t0


async def test_hostile_servers(fast: GrabOptions) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async def endless_head(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(2048)
        w.write(b"SIP/2.0 200 OK\r\n")
        for _ in range(2000):
            w.write(b"X-Junk: " + b"\xff\x00" * 50 + b"\r\n")
            await w.drain()
        await asyncio.sleep(60)

    async def text(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(2048)
        w.write(b"220 not sip at all\r\n")
        await w.drain()

    for handler, want in ((tarpit, Outcome.SILENT), (text, Outcome.NEGATIVE)):
        async with serve(handler, HOST) as port:
            outcome, _, _ = await _probe(port, fast)
        assert outcome == want, handler.__name__  # the tarpit: SILENT, the deadline held
    async with serve(endless_head, HOST) as port:
        outcome, result, _ = await _probe(port, fast)
    # an endless head is cut at MAX_RESPONSE, not read to the deadline or for ever
    assert outcome == Outcome.POSITIVE and result.sections["sip"]["truncated"] is True
    assert len(result.responses["SIPOptions"]) <= sip.MAX_RESPONSE


# -- the real Kamailio ----------------------------------------------------------------

@pytest.fixture
def kamailio(request: pytest.FixtureRequest) -> tuple[str, int]:
    svc = lab_service(request, "sip")
    return svc.ip, svc.port


@pytest.mark.lab
@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_real_kamailio(kamailio: tuple[str, int], transport: str) -> None:
    ip, port = kamailio
    ep = Endpoint(ip, port, transport)  # type: ignore[arg-type]
    res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "sip"
    section = res.sections["sip"]
    assert section["status"] == 200 and section["transport"] == transport
    version = binary_version("kamailio")
    assert section["server"].startswith(f"kamailio ({version} (")
    ident = Identifier().identify(res, ep)
    assert (ident.service, ident.product, ident.version) == ("sip", "Kamailio", version)
    assert f"cpe:/a:kamailio:kamailio:{version}" in ident.cpe
