"""HTTP/2 when ALPN picks h2: the sans-IO session fed by a real h2 server connection,
a Python TLS server that speaks h2 (well, with garbage, or dripping), and the lab's
nginx endpoints with ``http2`` on their listen lines."""

from __future__ import annotations

import ssl
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.http2 import Http2Session
from netatlas.model import Endpoint
from tests.labsvc import lab_named

from .tlsserver import HOST, PAGE, self_signed, server_context, tls_server


def server_reply(request: bytes, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """What a real h2 server connection sends back to the client's opening bytes."""
    srv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    srv.initiate_connection()
    for ev in srv.receive_data(request):
        if isinstance(ev, h2.events.RequestReceived):
            assert dict(ev.headers)[b":authority"] == b"127.20.16.201"
            srv.send_headers(ev.stream_id, [(":status", "200"), *headers])
            srv.send_data(ev.stream_id, body, end_stream=True)
    return srv.data_to_send()


def test_session_reads_status_headers_body() -> None:
    s = Http2Session("127.20.16.201", "ua", 64 * 1024, 1024)
    s.feed(server_reply(s.data_to_send(), [("server", "nginx/1.22.1")], b"<title>t</title>"))
    assert s.done and s.error is None
    assert (s.resp.status, s.resp.header("server"), s.resp.body) == (
        200, "nginx/1.22.1", b"<title>t</title>")
    assert s.resp.complete and not s.resp.truncated


def test_session_caps_the_body() -> None:
    s = Http2Session("127.20.16.201", "ua", 64 * 1024, 100)
    s.feed(server_reply(s.data_to_send(), [], b"y" * 5000))
    assert s.resp.truncated and len(s.resp.body) == 100 and s.done


def test_session_refuses_oversized_headers() -> None:
    s = Http2Session("127.20.16.201", "ua", 200, 100)
    s.feed(server_reply(s.data_to_send(), [("x-big", "v" * 5000)], b""))
    assert s.done and s.resp.status is None and s.error


@pytest.mark.parametrize("junk", [b"", b"HTTP/1.1 200 OK\r\n\r\n", b"\x00" * 9 + b"\xff" * 99])
def test_session_on_garbage(junk: bytes) -> None:
    s = Http2Session("127.20.16.201", "ua", 1024, 1024)
    s.feed(junk)
    assert s.resp.status is None


def h2_server_ctx(tmp: Path) -> ssl.SSLContext:
    return server_context(*self_signed(tmp), low=ssl.TLSVersion.TLSv1_2,
                          alpn=("h2", "http/1.1"))


async def test_grab_over_h2(tmp_path: Path, fast: GrabOptions) -> None:
    with tls_server(h2_server_ctx(tmp_path)) as srv:
        res = await grab_endpoint(Endpoint(HOST, srv.port), fast)
    assert res.status == "success", res.error
    assert res.sections["ssl"]["alpn"] == "h2"
    http = res.sections["http"]
    assert http["version"] == "HTTP/2" and http["http_version"] == "2"
    assert http["server"] == "h2test" and http["title"] == "tls test page"
    assert http["body_length"] == len(PAGE)
    # the rest of the grab went over HTTP/1.1: the GetRequest reply is the 1.1 server's
    assert b"Server: tlstest" in res.responses["GetRequest"]


async def test_h2_body_capped_like_http11(tmp_path: Path, fast: GrabOptions) -> None:
    with tls_server(h2_server_ctx(tmp_path), h2="big") as srv:
        res = await grab_endpoint(Endpoint(HOST, srv.port), fast)
    http = res.sections["http"]
    assert http["version"] == "HTTP/2"
    assert http["truncated"] is True and http["body_length"] == fast.max_body


@pytest.mark.parametrize("mode", ["garbage", "drip"])
async def test_hostile_h2_falls_back_to_http11(tmp_path: Path, fast: GrabOptions,
                                               mode: str) -> None:
    with tls_server(h2_server_ctx(tmp_path), h2=mode) as srv:
        res = await grab_endpoint(Endpoint(HOST, srv.port), fast)
    assert res.status == "success", res.error  # not cut by total_timeout
    http = res.sections["http"]
    assert "version" not in http and http["h2_error"].startswith("HTTP/2")
    assert http["server"] == "tlstest"  # what HTTP/1.1 said


@pytest.mark.lab
@pytest.mark.parametrize(("name", "title"), [("nginx-tls-modern", "modern TLS site"),
                                             ("nginx-https", "netatlas lab")])
async def test_lab_nginx_http2(request: pytest.FixtureRequest, name: str, title: str) -> None:
    svc = lab_named(request, name)
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    http = res.sections["http"]
    assert res.sections["ssl"]["alpn"] == "h2" and http["version"] == "HTTP/2"
    assert http["status"] == 200 and http["title"] == title
    assert http["server"] == f"nginx/{svc.version}"
