"""Hostile requests against the API (issue 15, defect 1): the key is checked before a
byte of the body is read, every body and field is capped with a clear answer, and an
error echoes at most a short, escaped prefix of what was sent. Native, Shodan-compatible
and monitor/alert routes alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netatlas.api import create_app
from netatlas.api._auth import FORM_KEY_ROUTES
from netatlas.api._limits import MAX_BODY, MAX_HEADERS, MAX_QUERY_STRING

ALLOW = ["127.20.0.0/16"]
CHUNK = 64 * 1024

# every route that takes a body: (method, path)
BODY_ROUTES = [
    ("POST", "/api/v1/scans"),
    ("POST", "/api/v1/keys"),
    ("POST", "/shodan/scan"),
    ("POST", "/shodan/alert"),
    ("POST", "/shodan/alert/x"),
    ("POST", "/notifier"),
    ("PUT", "/notifier/x"),
]


class Counted:
    """A streamed request body that counts what the server pulled from it."""

    def __init__(self, total: int, first: bytes = b"") -> None:
        self.total = total
        self.first = first
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            chunk = (self.first if sent == 0 and self.first else b"x" * CHUNK)
            self.pulled += len(chunk)
            sent += len(chunk)
            yield chunk


def _raw_controls(r: httpx.Response) -> bool:
    """The decoded error holds ESC or BEL (JSON escaping them is not enough: a client
    prints the decoded text)."""
    error = r.json()["error"]
    return "\x1b" in error or "\x07" in error


@pytest.fixture
def app(db: Path, keys: dict[str, str]) -> Iterator[Any]:
    application = create_app(str(db), allow=ALLOW, rate=1000, burst=1000)
    yield application
    application.state.services.close()


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url="http://test")


@pytest.mark.parametrize("method,path", BODY_ROUTES)
async def test_no_key_is_401_before_the_body_is_read(app: Any, method: str,
                                                     path: str) -> None:
    async with _client(app) as c:
        body = Counted(300 * 1024 * 1024)
        r = await c.request(method, path, content=body,
                            headers={"Content-Type": "application/json",
                                     "Content-Length": str(300 * 1024 * 1024)})
        # a Shodan form may carry its key inside: refused on its length instead
        expected = 413 if (method, path) in FORM_KEY_ROUTES else 401
        assert r.status_code == expected, (path, r.text)
        assert body.pulled == 0  # not one chunk of the 300 MB read
        r = await c.request(method, path, content=b"{bad",
                            headers={"Content-Type": "application/json",
                                     "X-API-Key": "wrong"})
        assert r.status_code == 401 and r.json()["error"] == "Invalid API key", path


async def test_bad_json_without_a_key_is_401(app: Any) -> None:
    async with _client(app) as c:
        r = await c.post("/api/v1/scans", content=b"{bad",
                         headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and "API key" in r.json()["error"]


@pytest.mark.parametrize("method,path", BODY_ROUTES)
async def test_oversized_body_is_413_with_the_limit(app: Any, keys: dict[str, str],
                                                    method: str, path: str) -> None:
    async with _client(app) as c:
        headers = {"X-API-Key": keys["admin"], "Content-Type": "application/json"}
        body = Counted(300 * 1024 * 1024)
        r = await c.request(method, path, content=body,
                            headers={**headers, "Content-Length": str(300 * 1024 * 1024)})
        assert r.status_code == 413 and str(MAX_BODY) in r.json()["error"], r.text
        assert body.pulled == 0  # refused on its Content-Length
        body = Counted(8 * MAX_BODY)  # chunked: no length to go by
        r = await c.request(method, path, content=body, headers=headers)
        assert r.status_code == 413 and str(MAX_BODY) in r.json()["error"], r.text
        assert body.pulled <= MAX_BODY + CHUNK


async def test_a_huge_field_is_not_echoed(app: Any, keys: dict[str, str]) -> None:
    big = "1" * (MAX_BODY // 2)
    hostile = "\x1b]0;pwned\x07" + "9" * 5000
    async with _client(app) as c:
        h = {"X-API-Key": keys["admin"]}
        for body in ({"targets": [big]}, {"targets": [hostile]}, {"targets": ["127.20.0.1"],
                                                                   "ports": big},
                     {"targets": ["127.20.0.1"], "allow": [big]},
                     {"targets": ["127.20.0.1"], "exclude": [hostile]}):
            r = await c.post("/api/v1/scans", json=body, headers=h)
            assert r.status_code == 400, r.text[:200]
            assert len(r.content) < 2048 and not _raw_controls(r)
        r = await c.post("/api/v1/keys", json={"name": big}, headers=h)
        assert r.status_code == 400 and len(r.content) < 2048
        form = {"key": keys["admin"], "ips": "127.20.0.1," + hostile}
        r = await c.post("/shodan/scan", data=form)
        assert r.status_code == 400 and len(r.content) < 2048, r.text[:200]
        assert not _raw_controls(r)
        r = await c.post("/shodan/alert", json={"name": big, "filters": {"ip": ["127.20.0.1"]}},
                         headers=h)
        assert r.status_code == 400 and len(r.content) < 2048, r.text[:200]
        r = await c.post("/shodan/alert", json={"filters": {"ip": [hostile]}}, headers=h)
        assert r.status_code in (400, 403) and len(r.content) < 2048, r.text[:200]
        assert not _raw_controls(r)
        r = await c.post("/notifier", data={"key": keys["admin"], "provider": "webhook",
                                            "url": big})
        assert r.status_code == 400 and len(r.content) < 2048, r.text[:200]


@pytest.mark.parametrize("body", [b"{bad", b"[1, 2]", b'"x"', b"null", b"\xff\xfe",
                                  b'{"filters": 5}', b'{"filters": {"ip": 5}}',
                                  b'{"filters": {"ip": [[1]]}}', b'{"name": {"a": 1}}'])
async def test_alert_bodies_of_the_wrong_shape_are_400(app: Any, keys: dict[str, str],
                                                       body: bytes) -> None:
    async with _client(app) as c:
        h = {"X-API-Key": keys["admin"], "Content-Type": "application/json"}
        for path in ("/shodan/alert", "/shodan/alert/nope"):
            r = await c.post(path, content=body, headers=h)
            assert r.status_code in (400, 404), (path, body, r.text)
            assert "error" in r.json()


async def test_query_string_and_headers_are_capped(app: Any, keys: dict[str, str]) -> None:
    async with _client(app) as c:
        h = {"X-API-Key": keys["read"]}
        r = await c.get("/api/v1/count", params={"q": "a" * MAX_QUERY_STRING}, headers=h)
        assert r.status_code == 414 and str(MAX_QUERY_STRING) in r.json()["error"]
        r = await c.get("/shodan/host/count?" + "x=1&" * (MAX_QUERY_STRING // 4 + 1),
                        headers=h)
        assert r.status_code == 414
        r = await c.get("/api/v1/count", headers={**h, "X-Pad": "a" * MAX_HEADERS})
        assert r.status_code == 431 and str(MAX_HEADERS) in r.json()["error"]
        # an ordinary request still passes
        assert (await c.get("/api/v1/count", params={"q": "port:22"},
                            headers=h)).status_code == 200


async def test_too_long_query_says_so(app: Any, keys: dict[str, str]) -> None:
    async with _client(app) as c:
        r = await c.get("/api/v1/search", params={"q": "a" * 5000},
                        headers={"X-API-Key": keys["read"]})
        assert r.status_code == 400
        assert "too long" in r.json()["error"] and "4096" in r.json()["error"]


async def test_key_in_the_form_still_works(app: Any, keys: dict[str, str]) -> None:
    """The shodan client posts its key in the form body: a bounded read, then the key."""
    async with _client(app) as c:
        r = await c.post("/shodan/scan", data={"key": keys["read"], "ips": "127.20.0.1"})
        assert r.status_code == 403  # a read key may not scan: it was read and checked
        r = await c.post("/notifier", data={"key": "wrong", "provider": "webhook"})
        assert r.status_code == 401
        r = await c.post("/notifier", data={"provider": "webhook"})
        assert r.status_code == 401


async def test_one_request_spends_one_token(db: Path, keys: dict[str, str]) -> None:
    application = create_app(str(db), allow=ALLOW, rate=0.001, burst=2)
    async with _client(application) as c:
        h = {"X-API-Key": keys["admin"]}
        codes = [(await c.post("/api/v1/keys", json={"name": "n"}, headers=h)).status_code
                 for _ in range(3)]
    application.state.services.close()
    assert codes == [201, 201, 429]
