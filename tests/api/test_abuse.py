"""API abuse (issue 15, "the suite that stays"): every route of the app — found by
walking ``app.routes``, so a route added tomorrow is covered without touching this file —
called without a key, with a wrong key, with each role and in open mode; oversized
heads and bodies on every route; the per-key limiter under a concurrent burst; and
failed key attempts limited per client address (they were not: a client could try keys
as fast as the server answered).

What each route needs is declared below (``NEEDS``); a route not named there needs a
read key, and a new route that refuses one fails here until it is named.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netatlas.api import create_app
from netatlas.api._auth import FORM_KEY_ROUTES
from netatlas.api._limits import MAX_HEADERS, MAX_QUERY_STRING, is_public
from netatlas.store.base import ROLES, Role
from netatlas.store.keys import role_allows

ALLOW = ["127.20.0.0/16"]
WRONG = "0" * 32  # shaped like a key, known to none
PLENTY = 1_000_000  # a bucket no test here empties unless it means to

# routes that need more than a read key: (method, path template) -> role
NEEDS: dict[tuple[str, str], Role] = {
    ("POST", "/api/v1/scans"): "scan",
    ("DELETE", "/api/v1/scans/{scan_id}"): "scan",
    ("GET", "/api/v1/keys"): "admin",
    ("POST", "/api/v1/keys"): "admin",
    ("DELETE", "/api/v1/keys/{key_id}"): "admin",
    ("POST", "/shodan/scan"): "scan",
    ("POST", "/shodan/alert"): "scan",
    ("POST", "/shodan/alert/{alert_id}"): "scan",
    ("DELETE", "/shodan/alert/{alert_id}"): "scan",
    ("PUT", "/shodan/alert/{alert_id}/trigger/{names}"): "scan",
    ("DELETE", "/shodan/alert/{alert_id}/trigger/{names}"): "scan",
    ("PUT", "/shodan/alert/{alert_id}/trigger/{name}/ignore/{endpoint}"): "scan",
    ("DELETE", "/shodan/alert/{alert_id}/trigger/{name}/ignore/{endpoint}"): "scan",
    ("PUT", "/shodan/alert/{alert_id}/notifier/{nid}"): "scan",
    ("DELETE", "/shodan/alert/{alert_id}/notifier/{nid}"): "scan",
    ("POST", "/notifier"): "scan",
    ("PUT", "/notifier/{nid}"): "scan",
    ("DELETE", "/notifier/{nid}"): "scan",
}

# values for path parameters; anything else gets "nope" (a 404 is an answer too). Ids
# that name nothing real, so an admin's DELETE revokes no key the tests use.
PARAMS = {"ip": "127.20.0.2", "ips": "127.20.0.2", "scan_id": "s1", "name": "swagger-ui.css",
          "path": "app.css", "names": "new_service", "endpoint": "127.20.0.2:80"}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path template) the app answers, included routers flattened."""
    try:  # FastAPI >= 0.16x keeps included routers whole in app.routes
        from fastapi.routing import iter_route_contexts
        found = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        found = list(app.routes)
    out = {(m, r.path) for r in found if r.path for m in (r.methods or ()) if m != "HEAD"}
    return sorted(out, key=lambda mp: (mp[1], mp[0]))


def concrete(path: str) -> str:
    return _PARAM.sub(lambda m: PARAMS.get(m.group(1), "nope"), path)


def body_for(method: str, path: str) -> dict[str, Any]:
    """An empty but well-formed body: it passes the guard and starts nothing."""
    if method not in ("POST", "PUT", "PATCH"):
        return {}
    if (method, path) in FORM_KEY_ROUTES:
        return {"data": {}}
    return {"json": {}}


def _client(app: Any, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)),
                             base_url="http://test")


def _make_app(db: Path, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"allow": ALLOW, "rate": PLENTY, "burst": PLENTY,
                               "auth_fail_rate": PLENTY, "auth_fail_burst": PLENTY}
    return create_app(str(db), **{**options, **kwargs})


@pytest.fixture
def app(db: Path, keys: dict[str, str]) -> Iterator[Any]:
    application = _make_app(db)
    yield application
    application.state.services.close()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


def test_every_route_is_found_and_needs_names_real_routes(app: Any) -> None:
    found = routes(app)
    paths = {p for _, p in found}
    # the walk reaches into every included router: native, Shodan, alerts, web, docs
    for path in ("/api/v1/search", "/shodan/host/{ips}", "/notifier", "/internetdb/{ip}",
                 "/tools/myip", "/docs", "/openapi.json"):
        assert path in paths, path
    assert len(found) >= 50
    assert set(NEEDS) <= set(found), set(NEEDS) - set(found)


async def test_every_route_without_a_key_is_401(app: Any, client: httpx.AsyncClient) -> None:
    wrong: list[str] = []
    for method, path in routes(app):
        r = await client.request(method, concrete(path), **body_for(method, path))
        if is_public(concrete(path)):
            ok = r.status_code < 500 and r.status_code != 401
        else:
            ok = r.status_code == 401 and "API key" in r.json()["error"]
        if not ok:
            wrong.append(f"{method} {path}: {r.status_code} {r.text[:80]}")
    assert wrong == []


@pytest.mark.parametrize("how", ["header", "bearer", "query", "cookie"])
async def test_every_route_with_a_wrong_key_is_401(app: Any, client: httpx.AsyncClient,
                                                    how: str) -> None:
    wrong: list[str] = []
    for method, path in routes(app):
        url, headers, cookies = concrete(path), {}, {}
        if how == "header":
            headers["X-API-Key"] = WRONG
        elif how == "bearer":
            headers["Authorization"] = f"Bearer {WRONG}"
        elif how == "query":
            url += f"?key={WRONG}"
        else:
            cookies["netatlas_key"] = WRONG
        client.cookies.clear()
        client.cookies.update(cookies)
        r = await client.request(method, url, headers=headers, **body_for(method, path))
        if is_public(concrete(path)):
            ok = r.status_code < 500 and r.status_code != 401
        else:
            ok = r.status_code == 401 and r.json()["error"] == "Invalid API key"
        if not ok:
            wrong.append(f"{method} {path}: {r.status_code} {r.text[:80]}")
    assert wrong == []


def _role_refusal(r: httpx.Response) -> bool:
    return r.status_code == 403 and "role" in r.json().get("error", "")


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_with_each_role(app: Any, client: httpx.AsyncClient,
                                          keys: dict[str, str], role: str) -> None:
    """A role below what a route needs gets 403 saying so; one at or above it is let in
    (its answer may be a 400 or 404 for the empty request; never a 401, a 429, a 5xx or
    a refusal for its role)."""
    wrong: list[str] = []
    for method, path in routes(app):
        if is_public(concrete(path)):
            continue
        need: Role = NEEDS.get((method, path), "read")
        r = await client.request(method, concrete(path), headers={"X-API-Key": keys[role]},
                                 **body_for(method, path))
        if role_allows(role, need):
            ok = r.status_code < 500 and r.status_code not in (401, 429) \
                and not _role_refusal(r)
        else:
            ok = _role_refusal(r) and need in r.json()["error"]
        if not ok:
            wrong.append(f"{method} {path} (needs {need}): {r.status_code} {r.text[:80]}")
    assert wrong == [], "a route refused or let in the wrong role; is it in NEEDS?"


async def test_every_route_in_open_mode(db: Path, keys: dict[str, str]) -> None:
    """--open serves a keyless loopback client as admin, and nobody else."""
    application = _make_app(db, open_access=True)
    wrong: list[str] = []
    async with _client(application) as local, _client(application, "192.0.2.7") as remote:
        for method, path in routes(application):
            if is_public(concrete(path)):
                continue
            r = await local.request(method, concrete(path), **body_for(method, path))
            if r.status_code >= 500 or r.status_code == 401 or _role_refusal(r):
                wrong.append(f"loopback {method} {path}: {r.status_code} {r.text[:80]}")
            r = await remote.request(method, concrete(path), **body_for(method, path))
            if r.status_code != 401:
                wrong.append(f"remote {method} {path}: {r.status_code} {r.text[:80]}")
    application.state.services.close()
    assert wrong == []


# -- oversized heads and bodies, on every route -------------------------------------------

async def test_every_route_caps_the_query_string_and_headers(
        app: Any, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    """Checked before the key: a keyless client is refused on size just the same."""
    wrong: list[str] = []
    long_query = "q=" + "a" * MAX_QUERY_STRING
    for method, path in routes(app):
        for headers in ({}, {"X-API-Key": keys["admin"]}):
            r = await client.request(method, f"{concrete(path)}?{long_query}", headers=headers)
            if r.status_code != 414 or str(MAX_QUERY_STRING) not in r.json()["error"]:
                wrong.append(f"{method} {path} query: {r.status_code}")
            many = {**headers, **{f"X-Pad-{i}": "a" * 200 for i in range(MAX_HEADERS // 200)}}
            r = await client.request(method, concrete(path), headers=many)
            if r.status_code != 431 or str(MAX_HEADERS) not in r.json()["error"]:
                wrong.append(f"{method} {path} headers: {r.status_code}")
    assert wrong == []


async def test_every_route_refuses_a_huge_body_unread(app: Any, client: httpx.AsyncClient,
                                                      keys: dict[str, str]) -> None:
    """300 MB announced on any route, GET and DELETE too: 401 without a key (a form
    route, whose key may be inside, 413), 413 with one; not a byte read either way."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(300):
            pulled += 1024 * 1024
            yield b"x" * (1024 * 1024)

    wrong: list[str] = []
    huge = str(300 * 1024 * 1024)
    for method, path in routes(app):
        for key in (None, keys["admin"]):
            headers = {"Content-Length": huge, "Content-Type": "application/json"}
            if key:
                headers["X-API-Key"] = key
            r = await client.request(method, concrete(path), content=body(), headers=headers)
            if is_public(concrete(path)) or key or (method, path) in FORM_KEY_ROUTES:
                expected = 413
            else:
                expected = 401
            if r.status_code != expected:
                wrong.append(f"{method} {path} key={bool(key)}: {r.status_code}")
    assert wrong == [] and pulled == 0


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", " ", "0x10", "99999999999999999999"])
async def test_a_malformed_content_length_is_400_or_413(client: httpx.AsyncClient,
                                                        keys: dict[str, str],
                                                        length: str) -> None:
    for key in (None, keys["admin"]):
        headers = {"Content-Length": length, "Content-Type": "application/json"}
        if key:
            headers["X-API-Key"] = key
        r = await client.post("/api/v1/keys", content=b"{}", headers=headers)
        assert r.status_code in ((401, 400, 413) if key is None else (400, 413)), r.text
        assert "error" in r.json()


@pytest.mark.parametrize("secret", ["a" * 10_000, "\x00" * 40, "é" * 64, "\x1b[31m" * 8,
                                    " ", WRONG + "\n"])
async def test_a_hostile_key_is_401_and_not_echoed(client: httpx.AsyncClient,
                                                   secret: str) -> None:
    for where in ("query", "header"):
        if where == "query":
            r = await client.get("/api/v1/count", params={"key": secret})
        else:
            try:
                r = await client.get("/api/v1/count", headers={"X-API-Key": secret})
            except (httpx.LocalProtocolError, UnicodeEncodeError):
                continue  # not sendable as a header at all
        assert r.status_code in (401, 414), (where, r.text)
        assert len(r.content) < 512
        assert not secret.strip() or secret.strip() not in r.text


# -- the per-key limiter under a burst ----------------------------------------------------

async def test_a_concurrent_burst_gets_exactly_the_burst(db: Path,
                                                         keys: dict[str, str]) -> None:
    """200 requests at once on one key with a burst of 25 and (next to) no refill: 25
    served, 175 told to wait with Retry-After; another key is untouched."""
    application = _make_app(db, rate=0.0001, burst=25)
    async with _client(application) as c:
        h = {"X-API-Key": keys["read"]}
        answers = await asyncio.gather(*(c.get("/api/v1/count", params={"q": "port:22"},
                                               headers=h) for _ in range(200)))
        codes = [r.status_code for r in answers]
        assert codes.count(200) == 25 and codes.count(429) == 175, codes
        assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 429)
        assert (await c.get("/api/v1/count", headers={"X-API-Key": keys["admin"]})
                ).status_code == 200
    application.state.services.close()


async def test_the_bucket_refills(db: Path, keys: dict[str, str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After Retry-After seconds (a clock moved by hand, no sleeping) the key is served."""
    import netatlas.api._ratelimit as ratelimit

    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    application = _make_app(db, rate=0.5, burst=2)
    async with _client(application) as c:
        h = {"X-API-Key": keys["read"]}
        codes = [(await c.get("/api/v1/count", headers=h)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = await c.get("/api/v1/count", headers=h)
        now[0] += int(r.headers["Retry-After"])
        assert (await c.get("/api/v1/count", headers=h)).status_code == 200
    application.state.services.close()


# -- failed key attempts, limited per client address --------------------------------------

async def test_wrong_keys_are_rate_limited(db: Path, keys: dict[str, str]) -> None:
    """Guessing keys: the first few wrong ones are 401, then 429 with Retry-After — and
    then a right key from that address waits too, so the answer never tells a guess
    that hit from one that missed. Another address is not held up."""
    application = _make_app(db, auth_fail_rate=0.0001, auth_fail_burst=5)
    async with _client(application) as c, _client(application, "127.0.0.9") as other:
        codes = [(await c.get("/api/v1/count", headers={"X-API-Key": f"{i:032x}"})
                  ).status_code for i in range(8)]
        assert codes == [401] * 5 + [429] * 3
        r = await c.get("/api/v1/count", headers={"X-API-Key": keys["read"]})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "failed" in r.json()["error"]
        r = await c.get("/api/v1/count", params={"key": keys["admin"]})
        assert r.status_code == 429
        assert (await other.get("/api/v1/count", headers={"X-API-Key": keys["read"]})
                ).status_code == 200
    application.state.services.close()


async def test_missing_keys_count_as_failures_too(db: Path, keys: dict[str, str]) -> None:
    application = _make_app(db, auth_fail_rate=0.0001, auth_fail_burst=3)
    async with _client(application) as c:
        codes = [(await c.get(path)).status_code
                 for path in ("/api/v1/count", "/shodan/host/search", "/", "/nope", "/search")]
        assert codes == [401, 401, 401, 429, 429]
    application.state.services.close()


async def test_a_wrong_key_in_a_form_is_limited(db: Path) -> None:
    """The Shodan client posts its key in the form: counted the same way."""
    application = _make_app(db, auth_fail_rate=0.0001, auth_fail_burst=2)
    async with _client(application) as c:
        codes = [(await c.post("/notifier", data={"key": WRONG, "provider": "webhook"})
                  ).status_code for _ in range(3)]
        codes += [(await c.post("/shodan/scan", data={"key": WRONG, "ips": "127.20.0.1"})
                   ).status_code]
        assert codes == [401, 401, 429, 429]
    application.state.services.close()


async def test_good_keys_do_not_spend_the_failure_budget(db: Path,
                                                         keys: dict[str, str]) -> None:
    application = _make_app(db, auth_fail_rate=0.0001, auth_fail_burst=2)
    async with _client(application) as c:
        for _ in range(20):
            r = await c.get("/api/v1/count", headers={"X-API-Key": keys["read"]})
            assert r.status_code == 200
        assert (await c.get("/api/v1/count", headers={"X-API-Key": WRONG})).status_code == 401
    application.state.services.close()


async def test_open_mode_keyless_loopback_is_not_a_failure(db: Path) -> None:
    application = _make_app(db, open_access=True, auth_fail_rate=0.0001, auth_fail_burst=1)
    async with _client(application) as c:
        codes = [(await c.get("/api/v1/count")).status_code for _ in range(10)]
        assert codes == [200] * 10
        assert (await c.get("/api/v1/count", params={"key": WRONG})).status_code == 401
        assert (await c.get("/api/v1/count", params={"key": WRONG})).status_code == 429
    application.state.services.close()


async def test_failures_refill_with_time(db: Path, keys: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import netatlas.api._ratelimit as ratelimit

    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    application = _make_app(db, auth_fail_rate=0.5, auth_fail_burst=2)
    async with _client(application) as c:
        h = {"X-API-Key": WRONG}
        codes = [(await c.get("/api/v1/count", headers=h)).status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        r = await c.get("/api/v1/count", headers={"X-API-Key": keys["read"]})
        assert r.status_code == 429
        now[0] += int(r.headers["Retry-After"])
        r = await c.get("/api/v1/count", headers={"X-API-Key": keys["read"]})
        assert r.status_code == 200
    application.state.services.close()


async def test_ipv6_clients_are_limited_per_64(db: Path) -> None:
    """One IPv6 host holds a /64: walking its addresses does not reset the count."""
    application = _make_app(db, auth_fail_rate=0.0001, auth_fail_burst=3)
    codes = []
    for i in range(5):
        async with _client(application, f"2001:db8:1:2::{i + 1:x}") as c:
            codes.append((await c.get("/api/v1/count", headers={"X-API-Key": WRONG})
                          ).status_code)
    async with _client(application, "2001:db8:1:3::1") as c:
        codes.append((await c.get("/api/v1/count", headers={"X-API-Key": WRONG})).status_code)
    application.state.services.close()
    assert codes == [401, 401, 401, 429, 429, 401]


async def test_default_limits_stop_a_key_guessing_burst(db: Path) -> None:
    """Out of the box (no limits passed): 300 concurrent wrong keys, most refused with
    429 before the store is asked, none a 5xx."""
    application = create_app(str(db))
    verified = 0
    verify = application.state.services.store.verify_key

    def counting(secret: str) -> Any:
        nonlocal verified
        verified += 1
        return verify(secret)

    application.state.services.store.verify_key = counting
    async with _client(application) as c:
        answers = await asyncio.gather(*(c.get("/api/v1/count",
                                               headers={"X-API-Key": f"{i:032x}"})
                                         for i in range(300)))
    application.state.services.close()
    codes = [r.status_code for r in answers]
    assert set(codes) == {401, 429}, set(codes)
    assert codes.count(429) >= 200 and verified <= 100, (codes.count(429), verified)

