"""Issue 15, defect 1, as it was found: a real ``netatlas serve`` sent an anonymous
300 MB ``POST /api/v1/scans``. It must answer 401 without taking the body in (it grew
from 114 MB to 720 MB), and an authenticated one over the cap gets a 413."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from netatlas.api._limits import MAX_BODY
from netatlas.store import open_store
from tests.api.conftest import fill

HOST = "127.0.0.1"
HUGE = 300 * 1024 * 1024
CHUNK = 1024 * 1024


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port != 2024:
            return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, psutil.Process,
                                                                     str]]:
    db = tmp_path_factory.mktemp("live") / "live.db"
    fill(db)
    store = open_store(db)
    key = store.create_key("scan", "live")[0]
    store.close()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netatlas.cli.main", "serve", "--db", str(db), "--host", HOST,
         "--port", str(port), "--allow", "127.20.0.0/16"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("netatlas serve did not start") from None
            time.sleep(0.2)
    yield port, psutil.Process(proc.pid), key
    proc.terminate()
    proc.wait(timeout=10)


def _post_huge(port: int, server: psutil.Process, headers: str = "") -> tuple[bytes, int]:
    """Send a 300 MB body (as long as the server keeps reading); the answer's status
    line and the server's peak RSS growth in bytes."""
    start = peak = server.memory_info().rss
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall((f"POST /api/v1/scans HTTP/1.1\r\nHost: {HOST}\r\n"
                      f"Content-Type: application/json\r\n{headers}"
                      f"Content-Length: {HUGE}\r\n\r\n").encode())
        chunk = b'{"targets": ["' + b"1" * (CHUNK - 14)
        sent = 0
        try:
            while sent < HUGE:
                sock.sendall(chunk)
                sent += len(chunk)
                peak = max(peak, server.memory_info().rss)
        except OSError:
            pass  # the server answered and closed: what it should do
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    return status, max(peak, server.memory_info().rss) - start


def test_anonymous_huge_body_is_401_and_not_read(server: tuple[int, psutil.Process,
                                                              str]) -> None:
    port, proc, _ = server
    status, grown = _post_huge(port, proc)
    assert status == b"HTTP/1.1 401 Unauthorized"
    assert grown < 32 * 1024 * 1024, f"server grew {grown >> 20} MiB"


def test_keyed_huge_body_is_413(server: tuple[int, psutil.Process, str]) -> None:
    port, proc, key = server
    status, grown = _post_huge(port, proc, f"X-API-Key: {key}\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert grown < 32 * 1024 * 1024 + MAX_BODY, f"server grew {grown >> 20} MiB"


def test_unknown_path_needs_a_key_too(server: tuple[int, psutil.Process, str]) -> None:
    port, _, _ = server
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(f"GET /nope HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                     .encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 401")


def test_wrong_keys_are_limited_per_address(server: tuple[int, psutil.Process,
                                                          str]) -> None:
    """A key-guessing client on a real server, from its own loopback address and with
    a new X-Forwarded-For on every try (the server trusts no proxy header): 401 for
    the first 20 (the default burst), then 429 with Retry-After, at most one more 401
    a second; the real key from another address is served meanwhile."""
    port, _, key = server
    codes: list[int] = []
    retry_after: list[str | None] = []
    started = time.monotonic()
    for i in range(60):
        conn = http.client.HTTPConnection(HOST, port, timeout=30,
                                          source_address=("127.0.0.77", 0))
        conn.request("GET", "/api/v1/count", headers={
            "X-API-Key": f"{i:032x}", "X-Forwarded-For": f"192.0.2.{i}",
            "X-Real-IP": f"192.0.2.{i}"})
        resp = conn.getresponse()
        resp.read()
        codes.append(resp.status)
        retry_after.append(resp.getheader("Retry-After"))
        conn.close()
    elapsed = time.monotonic() - started
    assert codes[:20] == [401] * 20 and set(codes) == {401, 429}, codes
    assert codes.count(401) <= 20 + elapsed * 1.0 + 1, (codes, elapsed)
    assert all(int(r or 0) >= 1 for c, r in zip(codes, retry_after, strict=True) if c == 429)
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/api/v1/count", headers={"X-API-Key": key})
    assert conn.getresponse().status == 200
    conn.close()
