"""Scans through the API: the server's allow list can be narrowed, never widened; a
real scan of a real listener on loopback runs as a task, shows progress, can be
cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from netatlas.api import create_app
from netatlas.api._scans import ScanRefused, narrowed_allow

HOST = "127.20.250.1"  # ours alone: no lab service lives here


def test_narrowing_rules() -> None:
    server = ["127.20.0.0/16", "127.30.0.0/24"]
    assert narrowed_allow(server, []) == server
    assert narrowed_allow(server, ["127.20.5.0/24", "127.30.0.7"]) == [
        "127.20.5.0/24", "127.30.0.7"]
    assert narrowed_allow(server, ["127.20.0.1-127.20.0.9"]) == ["127.20.0.1-127.20.0.9"]
    for wider in (["127.0.0.0/8"], ["127.20.0.0/15"], ["127.30.0.0/23"], ["127.20.0.0/16",
                                                                          "10.0.0.1"]):
        with pytest.raises(ScanRefused):
            narrowed_allow(server, wider)
    with pytest.raises(ScanRefused):
        narrowed_allow([], ["127.20.0.1"])


async def _echo_server() -> asyncio.Server:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 netatlas-test-ftp ready\r\n")
        await writer.drain()
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(100), 2)
        writer.close()

    return await asyncio.start_server(greet, HOST, 0)


@pytest.fixture
async def scan_client(db: Path, keys: dict[str, str]):
    app = create_app(str(db), allow=["127.20.250.0/24"], rate=1000, burst=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"X-API-Key": keys["scan"]}) as c:
        yield c
    await app.state.services.scans.shutdown()
    app.state.services.close()


async def test_widening_is_refused(scan_client: httpx.AsyncClient) -> None:
    r = await scan_client.post("/api/v1/scans", json={"targets": ["127.20.0.2"],
                                                      "allow": ["127.20.0.0/16"], "ports": "80"})
    assert r.status_code == 403 and "narrow" in r.json()["error"]
    # a target outside the server's list, with no allow of its own: refused by scope
    r = await scan_client.post("/api/v1/scans", json={"targets": ["127.20.0.2"], "ports": "80"})
    assert r.status_code == 403 and "refused" in r.json()["error"]
    # host names would need resolving: not from the server
    r = await scan_client.post("/api/v1/scans", json={"targets": ["localhost"], "ports": "80"})
    assert r.status_code == 400
    r = await scan_client.post("/api/v1/scans", json={"targets": []})
    assert r.status_code == 400
    assert not [s for s in (await scan_client.get("/api/v1/scans")).json()
                if s["id"] not in ("s1", "s2")]


async def test_scan_runs_and_is_searchable(scan_client: httpx.AsyncClient) -> None:
    server = await _echo_server()
    port = server.sockets[0].getsockname()[1]
    try:
        r = await scan_client.post("/api/v1/scans", json={
            "targets": [HOST], "ports": f"{port},{port + 1}", "allow": [f"{HOST}/32"],
            "banner_wait": 0.5, "timeout": 0.5})
        assert r.status_code == 202, r.text
        scan_id = r.json()["id"]
        for _ in range(100):
            s = (await scan_client.get(f"/api/v1/scans/{scan_id}")).json()
            if s["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert s["status"] == "finished" and s["open"] == 1 and s["observations"] == 1
        assert s["args"]["allow"] == [f"{HOST}/32"]
        assert "2024" in s["args"]["exclude_ports"]  # the server never probes it
        hits = (await scan_client.get("/api/v1/search", params={"q": f"ip:{HOST}"})).json()
        assert hits["total"] == 1 and "netatlas-test-ftp" in hits["results"][0]["data"]
    finally:
        server.close()
        await server.wait_closed()


async def test_cancel(scan_client: httpx.AsyncClient) -> None:
    # 2000 ports at 20 probes/s: long enough to cancel midway
    r = await scan_client.post("/api/v1/scans", json={
        "targets": [HOST], "ports": "30000-31999", "rate": 20, "timeout": 0.2})
    assert r.status_code == 202, r.text
    scan_id = r.json()["id"]
    await asyncio.sleep(0.5)
    r = await scan_client.delete(f"/api/v1/scans/{scan_id}")
    assert r.status_code == 200 and r.json()["status"] == "interrupted"
    assert (await scan_client.delete(f"/api/v1/scans/{scan_id}")).status_code == 409
    stored = (await scan_client.get(f"/api/v1/scans/{scan_id}")).json()
    assert stored["status"] == "interrupted" and stored["done"] < stored["total"]
