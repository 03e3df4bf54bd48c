"""Importing into a real store, on both backends (SQLite and PostgreSQL): imported
records search like scanned ones, importing twice doubles nothing, netatlas's own JSON
lines round-trip without loss, --reidentify names what the banner proves, and a
``kill -9`` mid-import leaves whole records that a second import completes."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netatlas.cli.render import print_json_lines
from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier
from netatlas.model import Finding, Observation
from netatlas.store import Store, open_store

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(p for p in DATA.iterdir() if p.suffix != ".md")


def _all(store: Store) -> list[Observation]:
    return [o for _, o in store.export_all()]


def test_imports_are_searchable_and_idempotent(store: Store) -> None:
    first = [import_file(store, str(p)) for p in FIXTURES]
    assert all(r.error is None for r in first)
    stored = len(_all(store))
    # the four masscan forms describe the same three endpoints at the same times: the
    # later three files' records were stored already, and the reports say so
    assert stored == sum(r.imported for r in first)
    assert sum(r.already_stored for r in first) == 9
    again = [import_file(store, str(p)) for p in FIXTURES]
    assert len(_all(store)) == stored  # nothing doubled, and the reports say so
    assert [r.imported for r in again] == [0] * len(FIXTURES)
    assert [r.already_stored for r in again] == [
        r.imported + r.already_stored for r in first]
    assert again[0].to_dict()["already_stored"] == again[0].already_stored > 0
    assert store.count("source:shodan") == 3
    assert store.count("source:masscan port:80") == 1
    assert store.count('source:zgrab2 http.title:"Example Domain"') == 1
    facets = store.facets("", ["source"], size=10)
    assert {v.value: v.count for v in facets["source"]} == {
        "masscan": 3, "zgrab2": 5, "httpx": 2, "shodan": 3}
    rec = store.search("source:shodan port:6379")[0]
    assert rec["source"] == "shodan" and rec["timestamp"] == "2023-11-14T22:13:20.123456"
    assert rec["import"]["file"].endswith("shodan.json.gz") and rec["import"]["line"] == 1


def test_history_orders_imports_by_their_own_time(store: Store, tmp_path: Path) -> None:
    lines = [{"_shodan": {"module": "ssh"}, "ip_str": "192.0.2.50", "port": 22,
              "timestamp": f"2023-0{m}-01T00:00:00", "data": f"SSH-2.0-OpenSSH_8.{m}\r\n"}
             for m in (3, 1, 2)]
    path = tmp_path / "h.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    import_file(store, str(path))
    history = store.host("192.0.2.50")
    assert [r["timestamp"][:7] for r in history] == ["2023-03", "2023-02", "2023-01"]
    assert store.host("192.0.2.50", history=False)[0]["data"].startswith("SSH-2.0-OpenSSH_8.3")


def _export(store: Store) -> list[dict]:
    out = io.StringIO()
    print_json_lines(store.iter_search(""), out)
    return sorted((json.loads(line) for line in out.getvalue().splitlines()),
                  key=lambda r: (r["ip_str"], r["port"]))


def test_netatlas_jsonl_round_trips_without_loss(store: Store, tmp_path: Path) -> None:
    src = open_store(tmp_path / "src.db")
    t0 = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
    rich = Observation(
        ip="127.20.13.9", port=8080, transport="tcp", timestamp=t0, scan_id="s-orig",
        service="http", product="nginx", version="1.22.1", cpe=["cpe:/a:nginx:nginx:1.22.1"],
        data=b"HTTP/1.1 200 OK\r\n\x00\xff\xfe caf\xc3\xa9", hostnames=["a.lab"], tags=["web"],
        info="x", os="Linux", sections={"http": {"status": 200, "title": "T"},
                                        "ssl": {"cert": {"subject": {"CN": "a.lab"}}}},
        risks=[Finding("tls-old", "high", "old", "TLSv1")],
        vulns={"CVE-2021-23017": {"cvss": 7.5}}, location={"country_code": "DE"},
        asn="AS64500", org="Lab")
    src.add(rich)
    src.add(Observation(ip="::1", port=53, transport="udp", timestamp=t0 + timedelta(1),
                        scan_id="s2", service="dns", data=b"\x00\x01"))
    src.flush()
    original = _export(src)
    src.close()
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in original))
    report = import_file(store, str(path))
    assert (report.format, report.imported, report.skipped) == ("netatlas", 2, 0)
    assert _export(store) == original
    stored = {o.port: o for o in _all(store)}
    assert stored[8080].data == rich.data  # the exact bytes, not their text form


def test_reidentify_finds_what_the_banner_proves(store: Store) -> None:
    report = import_file(store, str(DATA / "shodan.json.gz"), transform=Reidentifier(store))
    assert report.imported == 3
    assert store.count("risk:redis-no-auth") == 1
    redis = store.search("risk:redis-no-auth")[0]
    assert redis["ip_str"] == "192.0.2.40" and redis["product"] == "Redis"
    # Shodan's object says redis_version alone; INFO's text in `data` says the rest
    assert redis["redis"]["info"] == {
        "redis_version": "6.0.16", "redis_git_sha1": "00000000", "redis_mode": "standalone",
        "os": "Linux 5.15.0 x86_64", "arch_bits": "64", "tcp_port": "6379",
        "uptime_in_seconds": "86400", "connected_clients": "3"}
    ssh = store.search("port:22")[0]
    assert ssh["product"] == "OpenSSH" and "cpe:/a:openbsd:openssh:8.2p1" in ssh["cpe"]


def _shodan_lines(n: int) -> bytes:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ts = (t0 + timedelta(seconds=i)).replace(tzinfo=None).isoformat()
        out.append(json.dumps({
            "_shodan": {"module": "http"}, "ip_str": f"198.51.{i >> 8 & 255}.{i & 255}",
            "port": 80 + (i >> 16), "timestamp": ts, "data": f"HTTP/1.1 200 OK\r\nX-N: {i}\r\n",
            "http": {"status": 200, "title": f"page {i}"}}))
    return ("\n".join(out) + "\n").encode()


def test_a_killed_import_leaves_whole_records_and_a_rerun_completes(
        store_url: str, tmp_path: Path) -> None:
    n = 30_000
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(_shodan_lines(n), 1))
    cmd = [sys.executable, "-m", "netatlas.cli.main", "import", str(path), "--db", store_url]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    probe = open_store(store_url)
    try:
        deadline = time.monotonic() + 120
        while probe.count("") == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        probe.close()
    store = open_store(store_url)
    try:
        partial = _all(store)
        assert partial, "nothing was committed before the kill"
        for obs in partial:  # whole records only: every part of each one is there
            i = int(obs.data.split(b"X-N: ")[1].split(b"\r")[0])
            assert obs.sections["http"]["title"] == f"page {i}"
            assert obs.sections["import"]["line"] == i + 1 and obs.source == "shodan"
        report = import_file(store, str(path))
        # the rerun stores what the kill cut off and says what it found stored already
        assert (report.imported, report.already_stored) == (n - len(partial), len(partial))
        assert len(_all(store)) == n  # the rerun added the rest, doubled nothing
    finally:
        store.close()
