"""The official ``shodan`` CLI, end to end, against a real ``netatlas serve`` on
127.0.0.1 (``SHODAN_API_URL`` pointing at it, a netatlas key given to ``shodan init``):
each read command it has, ``download`` then ``parse`` / ``convert``, ``myip``, and
``scan submit`` / ``list`` / ``status`` of an on-demand scan inside the server's allow
list (a listener this test starts on 127.20.13.8). Also ``shodan parse`` over
``netatlas export --format shodan`` and the InternetDB lookups."""

from __future__ import annotations

import csv
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import shodan

from netatlas.cli.export import write_export
from netatlas.interop import import_file
from netatlas.store import open_store
from netatlas.store.internetdb import lookup

DATA = Path(__file__).parent / "data"
FORBIDDEN_PORT = 2024
SCAN_HOST, SCAN_PORT = "127.20.13.8", 1022  # inside the server's allow list, in 1-1024


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != FORBIDDEN_PORT:
            return port


def _netatlas(*args: str) -> list[str]:
    return [sys.executable, "-m", "netatlas.cli.main", *args]


@pytest.fixture(scope="module")
def listener() -> Iterator[None]:
    stop = threading.Event()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((SCAN_HOST, SCAN_PORT))
    sock.listen(8)
    sock.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                    conn.settimeout(2)
                    conn.recv(1024)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield
    stop.set()
    sock.close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, listener: None) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("shodan-cli")
    db = tmp / "s.db"
    store = open_store(db)
    for name in ("shodan.json.gz", "zgrab2.jsonl"):
        assert import_file(store, str(DATA / name)).error is None
    store.close()
    key = json.loads(subprocess.run(
        _netatlas("keys", "create", "--db", str(db), "--role", "scan", "--json",
                  "--rate", "1000", "--burst", "1000"),
        capture_output=True, text=True, check=True, timeout=60).stdout)["key"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NO_PROXY": "*"}
    proc = subprocess.Popen(
        _netatlas("serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port),
                  "--allow", "127.20.13.0/24"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/openapi.json", timeout=1, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("netatlas serve did not start")
            time.sleep(0.1)
        home = tmp / "home"
        home.mkdir()
        yield {"base": base, "key": key, "db": db, "tmp": tmp,
               "env": {**env, "HOME": str(home), "SHODAN_API_URL": base,
                       "http_proxy": "", "https_proxy": "", "HTTP_PROXY": "",
                       "HTTPS_PROXY": ""}}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _shodan(server: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "shodan", *args], capture_output=True,
                         text=True, timeout=120, env=server["env"], cwd=server["tmp"])
    assert out.returncode == 0, f"shodan {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def cli(server: dict) -> dict:
    assert "Successfully initialized" in _shodan(server, "init", server["key"])
    return server


def test_info_count_search_stats(cli: dict) -> None:
    assert "Query credits available" in _shodan(cli, "info")
    assert _shodan(cli, "count", "source:shodan").strip() == "3"
    assert _shodan(cli, "count", "port:22").strip() == "2"
    lines = _shodan(cli, "search", "--fields", "ip_str,port", "--limit", "2",
                    "--separator", ",", "source:shodan").split()
    assert len(lines) == 2 and all(line.count(",") >= 1 for line in lines)
    assert {line.split(",")[0] for line in lines} <= {"192.0.2.40", "192.0.2.41", "2001:db8::5"}
    stats = _shodan(cli, "stats", "--facets", "port", "source:shodan")
    assert "6379" in stats and "443" in stats and "22" in stats


def test_host_and_history(cli: dict) -> None:
    out = _shodan(cli, "host", "192.0.2.40")
    assert "192.0.2.40" in out and "6379" in out and "Example Org" in out
    assert "6379" in _shodan(cli, "host", "--history", "192.0.2.40")


def test_download_then_parse_and_convert(cli: dict) -> None:
    _shodan(cli, "download", "--limit", "10", "dl", "source:shodan")
    path = Path(cli["tmp"]) / "dl.json.gz"
    with gzip.open(path, "rt") as f:
        assert len(f.read().splitlines()) == 3
    parsed = _shodan(cli, "parse", "--fields", "ip_str,port", "--separator", ",", str(path))
    assert sorted(parsed.split()) == ["192.0.2.40,6379", "192.0.2.41,443", "2001:db8::5,22"]
    _shodan(cli, "convert", str(path), "csv")
    with open(Path(cli["tmp"]) / "dl.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["ip_str"] for r in rows) == ["192.0.2.40", "192.0.2.41", "2001:db8::5"]


def test_myip_ports_protocols(cli: dict) -> None:
    assert _shodan(cli, "myip").strip() == "127.0.0.1"
    protocols = _shodan(cli, "scan", "protocols")
    assert "redis" in protocols and "ssh" in protocols
    api = shodan.Shodan(cli["key"])
    api.base_url, api.api_rate_limit = cli["base"], 0
    api._session.trust_env = False
    ports = api.ports()
    assert 22 in ports and 1024 in ports and FORBIDDEN_PORT not in ports


def test_scan_submit_list_status(cli: dict) -> None:
    out = _shodan(cli, "scan", "submit", "--wait", "0", SCAN_HOST)
    scan_id = out.split("Scan ID:")[1].split()[0]
    assert scan_id in _shodan(cli, "scan", "list")
    deadline = time.monotonic() + 120
    while _shodan(cli, "scan", "status", scan_id).strip() != "DONE":
        assert time.monotonic() < deadline, "the scan did not finish"
        time.sleep(0.5)
    host = _shodan(cli, "host", SCAN_HOST)
    assert str(SCAN_PORT) in host and "OpenSSH" in host
    # outside the server's allow list: refused, nothing scanned
    refused = subprocess.run([sys.executable, "-m", "shodan", "scan", "submit", "--wait",
                              "0", "127.30.0.1"], capture_output=True, text=True,
                             timeout=60, env=cli["env"])
    # (the client shows any 403 as "Access denied"; the API's body says why)
    assert refused.returncode != 0 and "403" in refused.stderr


def test_internetdb_endpoint_and_file(cli: dict, tmp_path: Path) -> None:
    r = httpx.get(cli["base"] + "/internetdb/192.0.2.41", params={"key": cli["key"]},
                  trust_env=False)
    assert r.json() == {"cpes": ["cpe:2.3:a:f5:nginx:1.18.0:*:*:*:*:*:*:*"], "hostnames": [],
                        "ip": "192.0.2.41", "ports": [443], "tags": [],
                        "vulns": ["CVE-2021-23017"]}
    missing = httpx.get(cli["base"] + "/internetdb/192.0.2.99", params={"key": cli["key"]},
                        trust_env=False)
    assert missing.status_code == 404 and missing.json()["detail"] == "No information available"
    store = open_store(cli["db"])
    try:
        path = tmp_path / "idb.sqlite"
        assert write_export(store.iter_search(""), "internetdb-sqlite", str(path)) >= 9
        assert lookup(path, "192.0.2.41") == r.json()
        # and the Shodan export is read by `shodan parse`
        dump = tmp_path / "export.json.gz"
        assert write_export(store.iter_search("source:shodan"), "shodan", str(dump)) == 3
    finally:
        store.close()
    parsed = _shodan(cli, "parse", "--fields", "ip_str,port,org", "--separator", ",", str(dump))
    assert "192.0.2.40,6379,Example Org" in parsed.split("\n")
