"""A real SQLite store filled with synthetic observations, and the app over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from netatlas.api import create_app
from netatlas.model import Finding, Observation, Scan
from netatlas.store import open_store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ALLOW = ["127.20.0.0/16"]


def obs(ip: str, port: int, when: datetime, service: str, product: str | None = None,
        version: str | None = None, data: bytes = b"", scan: str = "s1",
        **sections: dict) -> Observation:
    return Observation(ip=ip, port=port, transport="tcp", timestamp=when, scan_id=scan,
                       service=service, product=product, version=version, data=data,
                       sections=dict(sections))


def fill(db: Path) -> None:
    store = open_store(db)
    for sid, day in (("s1", 0), ("s2", 1)):
        store.begin_scan(Scan(id=sid, started=T0 + timedelta(days=day),
                              args={"targets": ["127.20.0.0/24"], "ports": "1-10000"},
                              status="finished"))
    # s1: day 0
    store.add(obs("127.20.0.2", 80, T0, "http", "nginx", "1.22.1",
                  b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n",
                  http={"status": 200, "title": "Welcome to nginx", "server": "nginx/1.22.1"}))
    store.add(obs("127.20.0.2", 22, T0, "ssh", "OpenSSH", "9.2p1",
                  b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
                  ssh={"version_string": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}))
    store.add(obs("127.20.0.2", 6379, T0, "redis", "Redis", "7.0.15", b"-NOAUTH\r\n"))
    store.add(obs("127.20.0.3", 21, T0, "ftp", "vsftpd", "3.0.3", b"220 (vsFTPd 3.0.3)\r\n"))
    store.add(obs("127.20.0.4", 5432, T0, "postgresql", "PostgreSQL", "15.8", b""))
    # s2: day 1 — 127.20.0.2: nginx upgraded, redis gone, 8080 new
    t1 = T0 + timedelta(days=1)
    store.add(obs("127.20.0.2", 80, t1, "http", "nginx", "1.26.0",
                  b"HTTP/1.1 200 OK\r\nServer: nginx/1.26.0\r\n", scan="s2",
                  http={"status": 200, "title": "Welcome to nginx", "server": "nginx/1.26.0"}))
    store.add(obs("127.20.0.2", 22, t1, "ssh", "OpenSSH", "9.2p1",
                  b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", scan="s2",
                  ssh={"version_string": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}))
    hostile = obs("127.20.0.2", 8080, t1, "http", "Apache httpd", "2.4.62",
                  b"HTTP/1.1 200 OK\r\n\x00\xff<script>alert(1)</script>", scan="s2",
                  http={"status": 200, "title": "<img src=x onerror=alert(1)>"})
    hostile.tags = ["honeypot-bait"]
    hostile.risks = [Finding("exposed-admin", "high", "admin page open")]
    hostile.vulns = {"CVE-2024-0001": {"cvss": 7.5}}
    store.add(hostile)
    store.flush()
    store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "api.db"
    fill(path)
    return path


@pytest.fixture
def keys(db: Path) -> Iterator[dict[str, str]]:
    ks = open_store(db)
    out = {role: ks.create_key(role, f"test-{role}")[0] for role in ("read", "scan", "admin")}
    ks.close()
    yield out


@pytest.fixture
async def client(db: Path, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(str(db), allow=ALLOW, rate=1000, burst=1000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        c.headers["X-API-Key"] = keys["read"]
        yield c
    await app.state.services.scans.shutdown()
    app.state.services.close()
