"""Keys, roles, open mode and per-key rate limits."""

from __future__ import annotations

from pathlib import Path

import httpx

from netatlas.api import create_app
from netatlas.store import open_store


def _client(app, client=("127.0.0.1", 50000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client),
                             base_url="http://test")


async def test_no_key_no_data(db: Path, keys: dict[str, str]) -> None:
    app = create_app(str(db))
    async with _client(app) as c:
        for path in ("/api/v1/search", "/api/v1/host/127.20.0.2", "/shodan/host/search",
                     "/api-info", "/api/v1/export"):
            r = await c.get(path)
            assert r.status_code == 401 and "error" in r.json(), path
        assert (await c.get("/api/v1/search", params={"key": "wrong"})).status_code == 401
        # the three ways to send a key
        k = keys["read"]
        assert (await c.get("/api/v1/count", params={"key": k})).status_code == 200
        assert (await c.get("/api/v1/count",
                            headers={"Authorization": f"Bearer {k}"})).status_code == 200
        assert (await c.get("/api/v1/count", headers={"X-API-Key": k})).status_code == 200
    app.state.services.close()


async def test_roles(db: Path, keys: dict[str, str]) -> None:
    app = create_app(str(db), allow=["127.20.0.0/16"])
    async with _client(app) as c:
        body = {"targets": ["127.20.0.1"], "ports": "1"}
        r = await c.post("/api/v1/scans", json=body, headers={"X-API-Key": keys["read"]})
        assert r.status_code == 403
        r = await c.get("/api/v1/keys", headers={"X-API-Key": keys["scan"]})
        assert r.status_code == 403
        r = await c.get("/api/v1/keys", headers={"X-API-Key": keys["admin"]})
        assert r.status_code == 200 and {k["role"] for k in r.json()} == {"read", "scan", "admin"}
        assert all("hash" not in k and "key" not in k for k in r.json())
        # admin creates and revokes a key through the API
        r = await c.post("/api/v1/keys", json={"role": "read", "name": "ci"},
                         headers={"X-API-Key": keys["admin"]})
        new = r.json()
        assert r.status_code == 201 and len(new["key"]) == 32
        assert (await c.get("/api/v1/count", params={"key": new["key"]})).status_code == 200
        r = await c.delete(f"/api/v1/keys/{new['id']}", headers={"X-API-Key": keys["admin"]})
        assert r.status_code == 200
        assert (await c.get("/api/v1/count", params={"key": new["key"]})).status_code == 401
    app.state.services.close()


async def test_open_mode_is_loopback_only(db: Path, keys: dict[str, str]) -> None:
    app = create_app(str(db), open_access=True)
    async with _client(app) as c:
        assert (await c.get("/api/v1/count")).status_code == 200
        # a key that is sent is still checked
        assert (await c.get("/api/v1/count", params={"key": "bogus"})).status_code == 401
    async with _client(app, client=("192.0.2.7", 40000)) as c:
        assert (await c.get("/api/v1/count")).status_code == 401
    app.state.services.close()


async def test_rate_limit_per_key(db: Path, keys: dict[str, str]) -> None:
    app = create_app(str(db), rate=0.5, burst=3)
    async with _client(app) as c:
        codes = [(await c.get("/api/v1/count", params={"key": keys["read"]})).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await c.get("/api/v1/count", params={"key": keys["read"]})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert "error" in r.json()
        # another key has its own bucket
        assert (await c.get("/api/v1/count",
                            params={"key": keys["admin"]})).status_code == 200
    app.state.services.close()


async def test_per_key_rate_overrides_server(db: Path) -> None:
    ks = open_store(db)
    secret, _ = ks.create_key("read", "slow", rate=0.1, burst=1)
    ks.close()
    app = create_app(str(db), rate=1000, burst=1000)
    async with _client(app) as c:
        assert (await c.get("/api/v1/count", params={"key": secret})).status_code == 200
        assert (await c.get("/api/v1/count", params={"key": secret})).status_code == 429
    app.state.services.close()
