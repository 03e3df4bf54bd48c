import asyncio
import base64
import gzip
import hashlib

import mmh3

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.httpparse import parse_response
from netatlas.grab.protocols.http import (
    env_sample,
    http_section,
    looks_like_env,
    looks_like_git_head,
)
from netatlas.model import Endpoint

from .conftest import serve

ICON = b"\x00\x00\x01\x00" + bytes(range(256)) * 2  # > 57 bytes: encodebytes adds newlines
PAGE = (
    b"<html><head><title>Lab &lt;Admin&gt;</title>"
    b'<link rel="icon" href="http://198.51.100.7/evil.ico"></head>hello</html>'
)


def test_mmh3_is_signed_murmur3() -> None:
    assert mmh3.hash(b"foo") == -156908512  # published test vector


def test_http_section_shape() -> None:
    raw = (
        b"HTTP/1.1 302 Found\r\nServer: lab\r\nLocation: http://elsewhere.test/x\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
    )
    body = gzip.compress(PAGE)
    resp = parse_response(raw % len(body) + body)
    s = http_section(resp, "h.test", 1 << 20)
    assert s["status"] == 302 and s["server"] == "lab"
    assert s["redirect"] == "http://elsewhere.test/x" and s["location"] == "/"
    assert s["title"] == "Lab <Admin>"
    assert s["html"] == PAGE.decode() and s["body_length"] == len(PAGE)
    assert s["html_hash"] == mmh3.hash(PAGE)
    assert s["body_sha256"] == hashlib.sha256(PAGE).hexdigest()
    assert s["host"] == "h.test" and s["headers"]["content-encoding"] == "gzip"


class TinyHttp:
    """A recording HTTP/1.x server: enough to check what grab sends and keeps."""

    def __init__(self, routes: dict[str, tuple[int, bytes, bytes]]) -> None:
        self.routes = routes
        self.requests: list[bytes] = []

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        path = head.split(b" ")[1].decode()
        status, ctype, body = self.routes.get(path, (404, b"text/html", b"<h1>404</h1>"))
        w.write(
            b"HTTP/1.1 %d X\r\nServer: tiny/1.0\r\nContent-Type: %s\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, ctype, len(body), body)
        )
        await w.drain()


def grab_requests(srv: TinyHttp) -> list[bytes]:
    """The grabber's own HTTP/1.1 requests (detection's probes, nmap's, come before)."""
    return [q for q in srv.requests if q.split(b"\r\n", 1)[0].endswith(b" HTTP/1.1")]


async def test_live_http_grab(fast: GrabOptions) -> None:
    srv = TinyHttp({"/": (200, b"text/html", PAGE), "/favicon.ico": (200, b"image/x-icon", ICON)})
    async with serve(srv, "127.20.250.10") as port:
        res = await grab_endpoint(Endpoint("127.20.250.10", port), fast)
    assert res.status == "success", res.error
    assert res.service == "http" and not res.tls
    h = res.sections["http"]
    assert h["status"] == 200 and h["title"] == "Lab <Admin>" and h["server"] == "tiny/1.0"
    assert h["host"] == f"127.20.250.10:{port}"
    assert h["favicon"] == {
        "hash": mmh3.hash(base64.encodebytes(ICON)),
        "location": f"http://127.20.250.10:{port}/favicon.ico",
        "size": len(ICON),
    }
    assert res.data.startswith(b"HTTP/1.1 200 X\r\n")
    assert res.responses["GetRequest"].startswith(b"HTTP/1.1 200")
    # nmap's GetRequest went out byte for byte; the full request carries our headers.
    assert b"GET / HTTP/1.0\r\n\r\n" in srv.requests
    full = grab_requests(srv)[0].lower()
    assert b"user-agent: netatlas/0.1" in full and b"connection: close" in full
    assert f"host: 127.20.250.10:{port}".encode() in full
    # the off-endpoint <link rel=icon> was never requested
    assert all(b"evil" not in q for q in srv.requests)


async def test_icon_link_on_same_endpoint_and_redirect_not_followed(fast: GrabOptions) -> None:
    page = b'<link rel="shortcut icon" href="/img/i.png">'
    png = b"\x89PNG\r\n\x1a\n" + b"p" * 100
    srv = TinyHttp({"/": (302, b"text/html", page), "/img/i.png": (200, b"image/png", png)})
    async with serve(srv, "127.20.250.11") as port:
        res = await grab_endpoint(Endpoint("127.20.250.11", port), fast)
    h = res.sections["http"]
    assert h["status"] == 302
    assert h["favicon"]["location"].endswith("/img/i.png") and h["favicon"]["size"] == len(png)
    paths = [q.split(b" ")[1] for q in grab_requests(srv)]
    assert paths[:-1] == [b"/", b"/favicon.ico", b"/img/i.png", b"/.git/HEAD", b"/.env",
                          b"/version", b"/api", b"/api/v1/status/buildinfo"]
    assert paths[-1].startswith(b"/netatlas-")  # the error page's random path
    assert "exposed" not in h  # 404s are not exposures


async def test_host_header_option(fast: GrabOptions) -> None:
    srv = TinyHttp({"/": (200, b"text/html", b"ok")})
    fast.host_header = "www.lab.test"
    async with serve(srv, "127.20.250.12") as port:
        res = await grab_endpoint(Endpoint("127.20.250.12", port), fast)
    assert res.sections["http"]["host"] == f"www.lab.test:{port}"
    assert f"host: www.lab.test:{port}".encode() in grab_requests(srv)[0].lower()


ENV = b"# app\nDB_PASSWORD=hunter2\nexport API_KEY = abc123\n\nDEBUG=true\n"


async def test_exposed_git_and_env(fast: GrabOptions) -> None:
    srv = TinyHttp({
        "/": (200, b"text/html", b"<title>x</title>"),
        "/.git/HEAD": (200, b"text/plain", b"ref: refs/heads/main\n"),
        "/.env": (200, b"text/plain", ENV),
    })
    async with serve(srv, "127.20.250.13") as port:
        res = await grab_endpoint(Endpoint("127.20.250.13", port), fast)
    ex = res.sections["http"]["exposed"]
    assert ex["/.git/HEAD"] == {"status": 200, "length": 21, "sample": "ref: refs/heads/main\n"}
    assert ex["/.env"]["length"] == len(ENV)
    sample = ex["/.env"]["sample"]
    assert "DB_PASSWORD=***" in sample and "export API_KEY =***" in sample
    assert "hunter2" not in sample and "abc123" not in sample  # values never stored


async def test_soft_404_is_not_an_exposure(fast: GrabOptions) -> None:
    page = b"<!doctype html><html><title>Home</title>ref: refs/heads/x A=B</html>"
    srv = TinyHttp({"/": (200, b"text/html", page), "/.git/HEAD": (200, b"text/html", page),
                    "/.env": (200, b"text/html", page)})
    async with serve(srv, "127.20.250.14") as port:
        res = await grab_endpoint(Endpoint("127.20.250.14", port), fast)
    assert "exposed" not in res.sections["http"]


def test_exposed_content_checks() -> None:
    assert looks_like_git_head(b"ref: refs/heads/master\n")
    assert looks_like_git_head(b"0123456789abcdef0123456789abcdef01234567\n")
    assert not looks_like_git_head(b"0123456789abcdef\n")
    assert not looks_like_git_head(b"<html>ref: refs/heads/main</html>")
    assert looks_like_env(b"A=1\nB=2\n")
    assert not looks_like_env(b"hello world\nnot env\nA=1\n")
    assert not looks_like_env(b"")
    assert env_sample(b"SECRET=topsecret\n") == "SECRET=***\n"


async def test_well_known_api_documents(fast: GrabOptions) -> None:
    srv = TinyHttp({
        "/": (404, b"text/plain", b"404 page not found\n"),
        "/version": (200, b"application/json", b'{"etcdserver":"3.4.23"}'),
        "/api": (200, b"text/html", b"<html>not json</html>"),
    })
    async with serve(srv, "127.20.250.15") as port:
        res = await grab_endpoint(Endpoint("127.20.250.15", port), fast)
    # only JSON answered with 200 is kept; HTML and 404s are not API documents
    assert res.sections["http"]["api"] == {"version": '{"etcdserver":"3.4.23"}'}
