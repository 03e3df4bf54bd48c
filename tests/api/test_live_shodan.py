"""A real ``netatlas serve`` process on 127.0.0.1, driven by the official ``shodan``
client and by plain HTTP: keys made with ``netatlas keys``, refusals, rate limit,
and a scan request that tries to widen the allow list."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import shodan

from tests.api.conftest import fill

FORBIDDEN_PORT = 2024


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "netatlas.cli.serve", *args]


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != FORBIDDEN_PORT:
            return port


def _key(db: Path, *args: str) -> dict:
    out = subprocess.run(_cli("keys", "create", "--db", str(db), "--json", *args),
                         capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("live")
    db = tmp / "live.db"
    fill(db)
    keys = {
        "read": _key(db, "--role", "read")["key"],
        "scan": _key(db, "--role", "scan")["key"],
        "slow": _key(db, "--role", "read", "--rate", "0.2", "--burst", "2")["key"],
    }
    port = _free_port()
    env = {**os.environ, "NO_PROXY": "*"}
    proc = subprocess.Popen(
        _cli("serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port),
             "--allow", "127.20.250.0/24"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/openapi.json", timeout=1, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                _out, err = proc.communicate(timeout=5)
                pytest.fail(f"netatlas serve did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield {"base": base, "keys": keys, "db": db, "pid": proc.pid}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _api(live: dict, key: str) -> shodan.Shodan:
    api = shodan.Shodan(key)
    api.base_url = live["base"]  # the client appends /shodan/host/... and /api-info itself
    api.api_rate_limit = 0  # the client's own 1 req/s pacing is for api.shodan.io
    api._session.trust_env = False  # loopback only: never through a proxy
    return api


def test_shodan_client_host(live: dict) -> None:
    api = _api(live, live["keys"]["read"])
    host = api.host("127.20.0.2")
    assert host["ip_str"] == "127.20.0.2" and host["ports"] == [22, 80, 6379, 8080]
    assert {b["port"] for b in host["data"]} == {22, 80, 6379, 8080}
    assert any(b.get("product") == "nginx" and b["version"] == "1.26.0" for b in host["data"])
    assert len(api.host("127.20.0.2", history=True)["data"]) == 6
    assert "data" not in api.host("127.20.0.2", minify=True)
    with pytest.raises(shodan.APIError, match="No information"):
        api.host("127.20.9.9")


def test_shodan_client_search_count_facets(live: dict) -> None:
    api = _api(live, live["keys"]["read"])
    res = api.search("port:22,80", facets=[("port", 5), "product"])
    assert res["total"] == 2
    assert sorted(m["port"] for m in res["matches"]) == [22, 80]
    assert {f["value"] for f in res["facets"]["port"]} == {22, 80}
    assert {f["value"]: f["count"] for f in res["facets"]["product"]} == {"nginx": 1,
                                                                           "OpenSSH": 1}
    windowed = api.search("", limit=2, offset=1, fields=["ip_str", "port"])
    assert len(windowed["matches"]) == 2
    assert all(set(m) <= {"ip_str", "port"} for m in windowed["matches"])
    count = api.count("service:http", facets=["product"])
    assert count["total"] == 2 and len(count["facets"]["product"]) == 2
    assert [b["port"] for b in api.search_cursor("service:http")] == [8080, 80]
    assert "port" in api.search_facets() and "net" in api.search_filters()
    assert api.info()["plan"] == "netatlas"
    with pytest.raises(shodan.APIError, match="expected"):
        api.search("port:>")


def test_shodan_client_refused_without_a_good_key(live: dict) -> None:
    with pytest.raises(shodan.APIError, match="Invalid API key"):
        _api(live, "0" * 32).search("port:22")
    r = httpx.get(live["base"] + "/shodan/host/search", params={"query": ""}, trust_env=False)
    assert r.status_code == 401
    r = httpx.get(live["base"] + "/api/v1/search", trust_env=False)
    assert r.status_code == 401


def test_rate_limit_429(live: dict) -> None:
    key = live["keys"]["slow"]
    codes = []
    for _ in range(4):
        r = httpx.get(live["base"] + "/api/v1/count", params={"key": key}, trust_env=False)
        codes.append(r.status_code)
    assert codes[:2] == [200, 200] and codes[-1] == 429
    assert int(r.headers["retry-after"]) >= 1
    # the shodan client surfaces it as an error
    with pytest.raises(shodan.APIError, match="Rate limit"):
        _api(live, key).count("")


def test_scan_cannot_widen_allow_list(live: dict) -> None:
    url = live["base"] + "/api/v1/scans"
    body = {"targets": ["127.20.0.2"], "ports": "80", "allow": ["127.0.0.0/8"]}
    r = httpx.post(url, json=body, headers={"X-API-Key": live["keys"]["scan"]}, trust_env=False)
    assert r.status_code == 403 and "narrow" in r.json()["error"]
    r = httpx.post(url, json=body, headers={"X-API-Key": live["keys"]["read"]}, trust_env=False)
    assert r.status_code == 403  # role first: a read key starts nothing


def test_keys_list_and_revoke_via_cli(live: dict) -> None:
    made = _key(live["db"], "--role", "read", "--name", "temp")
    api = _api(live, made["key"])
    assert api.count("")["total"] == 6
    out = subprocess.run(_cli("keys", "list", "--db", str(live["db"]), "--json"),
                         capture_output=True, text=True, check=True, timeout=30).stdout
    listed = [json.loads(line) for line in out.splitlines()]
    assert made["id"] in {k["id"] for k in listed} and made["key"] not in out
    subprocess.run(_cli("keys", "revoke", made["id"], "--db", str(live["db"])), check=True,
                   capture_output=True, timeout=30)
    with pytest.raises(shodan.APIError, match="Invalid API key"):
        api.count("")


def test_open_refused_off_loopback(tmp_path: Path) -> None:
    # refused before anything binds: the address is never used
    r = subprocess.run(_cli("serve", "--db", str(tmp_path / "x.db"), "--open", "--host",
                            "0.0.0.0", "--port", str(_free_port())),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "loopback" in r.stderr
