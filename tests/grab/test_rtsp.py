"""RTSP: the DESCRIBE reply parser on bytes captured from Debian 12's gst-rtsp-server 1.22
(the lab's lab/rtspd.py, open and behind Basic auth), a fuzzed parser, and the lab's real
servers through the whole grab — one on 554, one on a port nothing hints."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.rtsp import describe_request, parse_reply, reply_complete
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation
from tests.labsvc import lab_named

OPEN = (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Base: "
        b"rtsp://127.20.14.205:8554/\r\nServer: GStreamer RTSP server\r\nDate: Fri, 04 Dec 2026 "
        b"20:32:06 GMT\r\nContent-Length: 442\r\n\r\nv=0\r\no=- 17350847268235709527 1 IN IP4 "
        b"127.20.14.205\r\ns=Session streamed with GStreamer\r\ni=rtsp-server\r\nt=0 0\r\n"
        b"a=tool:GStreamer\r\na=type:broadcast\r\na=control:*\r\na=range:npt=now-\r\nm=video 0 "
        b"RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 RAW/90000\r\na=framerate:5\r\na=fmtp:96 "
        b"sampling=BGRA;depth=8;width=320;height=240;colorimetry=SMPTE240M\r\na=control:stream=0"
        b"\r\na=ts-refclk:local\r\na=mediaclk:sender\r\na=ssrc:118508482 cname:user208132308@"
        b"host-77ab1f57\r\n")
GUARDED = (b'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Basic realm="GStreamer '
           b'RTSP Server"\r\nServer: GStreamer RTSP server\r\nDate: Fri, 04 Dec 2026 20:32:07 '
           b"GMT\r\n\r\n")


def test_request() -> None:
    req = describe_request("127.20.0.75", 554, "netatlas/0.1")
    assert req.startswith(b"DESCRIBE rtsp://127.20.0.75:554/ RTSP/1.0\r\nCSeq: 1\r\n")
    assert req.endswith(b"\r\n\r\n")


def test_parse_captured_replies() -> None:
    assert reply_complete(OPEN) and not reply_complete(OPEN[:-40])
    assert reply_complete(GUARDED)
    open_ = parse_reply(OPEN)
    assert open_ is not None
    assert (open_["status"], open_["auth_required"], open_["server"]) == (
        200, False, "GStreamer RTSP server")
    assert open_["sdp"] == {"session_name": "Session streamed with GStreamer",
                            "info": "rtsp-server", "tool": "GStreamer",
                            "media": ["video 0 RTP/AVP 96"]}
    guarded = parse_reply(GUARDED)
    assert guarded == {"status": 401, "reason": "Unauthorized", "auth_required": True,
                       "server": "GStreamer RTSP server", "auth_schemes": ["Basic"],
                       "realm": "GStreamer RTSP Server"}
    assert parse_reply(b"HTTP/1.1 200 OK\r\n\r\n") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz(data: bytes) -> None:
    reply_complete(data)
    for d in (data, b"RTSP/1.0 200 OK\r\n" + data, GUARDED[:60] + data):
        parse_reply(d)


@pytest.mark.lab
@pytest.mark.parametrize(("name", "findings"), [("rtsp", {"rtsp-no-auth"}),
                                                ("rtsp-auth", set())])
async def test_lab_rtsp(request: pytest.FixtureRequest, name: str, findings: set[str]) -> None:
    svc = lab_named(request, name)
    ep = Endpoint(svc.ip, svc.port)
    res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error
    ident = Identifier(nmap=None, fingerprints=None).identify(res, ep)
    obs = Observation.build(ep, "t", res, ident)
    assert (obs.service, obs.product) == ("rtsp", "GStreamer RTSP Server")
    assert "camera" in obs.tags
    assert {f.id for f in assess(obs)} == findings
