import asyncio
import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.engine.registry import Protocol
from netatlas.grab.protocols import registry
from netatlas.grab.protocols.dns import parse_response, query, tcp_complete
from netatlas.model import Endpoint
from tests.labsvc import lab_service

from .conftest import serve

Q = query(qid=0x1234)
# dnsmasq's answer: the question, then a TXT RR whose name is a pointer to it
ANSWER = (
    b"\x12\x34\x84\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    + b"\x07version\x04bind\x00\x00\x10\x00\x03"
    + b"\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0cdnsmasq-2.90"
)


def test_query() -> None:
    assert struct.unpack(">H", Q[:2])[0] == len(Q) - 2
    assert Q[2:4] == b"\x12\x34" and Q[4:6] == b"\x00\x00"
    assert Q[14:].startswith(b"\x07version\x04bind\x00\x00\x10\x00\x03")


def test_parse_answer() -> None:
    s = parse_response(ANSWER, 0x1234)
    assert s["version_bind"] == "dnsmasq-2.90"
    assert s["rcode_name"] == "NOERROR" and s["authoritative"] and s["recursion_available"]
    refused = b"\x12\x34\x81\x05\x00\x01\x00\x00\x00\x00\x00\x00" + ANSWER[12:29]
    r = parse_response(refused, 0x1234)
    assert r["rcode_name"] == "REFUSED" and "version_bind" not in r
    with pytest.raises(ProtocolError):
        parse_response(ANSWER, 0x9999)  # not our query
    with pytest.raises(ProtocolError):
        parse_response(Q[2:])  # a query, not a response
    loop = ANSWER[:29] + b"\xc0\x1d" + ANSWER[31:]  # a pointer to itself
    with pytest.raises(ProtocolError):
        parse_response(loop)
    frame = struct.pack(">H", len(ANSWER)) + ANSWER
    assert tcp_complete(frame) and not tcp_complete(frame[:-1])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz(data: bytes) -> None:
    for d in (data, ANSWER[:12] + data, ANSWER[:29] + data):
        with contextlib.suppress(ProtocolError):
            parse_response(d)
    tcp_complete(data)


async def test_live_fake_dns_hinted(fast: GrabOptions) -> None:
    """DNS is probed last (it waits silently on other probes' bytes): the port hint
    (53 in production, the ephemeral port here) is what reaches it."""

    async def dnsd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        n = struct.unpack(">H", await r.readexactly(2))[0]
        q = await r.readexactly(n)
        msg = q[:2] + ANSWER[2:]
        w.write(struct.pack(">H", len(msg)) + msg)
        await w.drain()
        await r.read()

    async with serve(dnsd, "127.20.250.63") as port:
        # the ephemeral port hinted as DNS's: a protocol of its own with DNS's probe
        here = Protocol(name="dns-on-this-port", ports=(port,), probe=registry["dns"].probe)
        with registry.registered(here):
            res = await grab_endpoint(Endpoint("127.20.250.63", port), fast)
    assert res.status == "success", res.error
    assert res.service == "domain"
    assert res.sections["dns"]["version_bind"] == "dnsmasq-2.90"


@pytest.mark.lab
async def test_lab_dns(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "domain")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "domain"
    assert res.sections["dns"]["version_bind"].startswith("dnsmasq-")
