"""End to end through the CLI: scan the real lab, then find every service by every
field. Ports exclude 2024, which is not ours on this machine."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

LAB_PORTS = "21,22,25,80,443,2222,5432,6379,7000,8081,11211"


def netatlas(*args: str, db: Path | str, check: bool = True, timeout: float = 300) -> Any:
    env = {**os.environ, "NETATLAS_DB": str(db)}
    proc = subprocess.run(
        [sys.executable, "-m", "netatlas.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"netatlas {args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def scanned(lab: list[Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    db = tmp_path_factory.mktemp("scan") / "lab.db"
    netatlas("scan", "127.20.0.0/24", "-p", LAB_PORTS, "--exclude-ports", "2024",
             "--allow", "127.20.0.0/16", "--json", db=db)
    return db, lab


def by_endpoint(records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["ip_str"], r["port"]): r for r in records}


def test_every_lab_service_identified(scanned: tuple[Path, list[Any]]) -> None:
    db, lab = scanned
    records = by_endpoint(jsonl(netatlas("search", "net:127.20.0.0/24", "--json",
                                         "--limit", "1000", db=db).stdout))
    missing = []
    # core services only: the newer ones (core=False) are measured by bench/identify.py
    for svc in (s for s in lab if s.core):
        rec = records.get((svc.ip, svc.port))
        if rec is None:
            missing.append(f"{svc.name}: not found at {svc.ip}:{svc.port}")
            continue
        if rec["service"] != svc.service:
            missing.append(f"{svc.name}: service {rec['service']!r} != {svc.service!r}")
        if (rec["product"] or "").lower() != svc.product.lower():
            missing.append(f"{svc.name}: product {rec['product']!r} != {svc.product!r}")
        if svc.version_visible and not _version_matches(rec.get("version"), svc.version):
            missing.append(f"{svc.name}: version {rec.get('version')!r} != {svc.version!r}")
    assert not missing, "\n".join(missing)


def _version_matches(found: str | None, truth: str) -> bool:
    # PostgreSQL shows no exact version before login; a major-version prefix is honest
    return bool(found) and (found == truth or truth.startswith(found) or found.startswith(truth))


def test_record_shape(scanned: tuple[Path, list[Any]]) -> None:
    db, _ = scanned
    rec = jsonl(netatlas("search", "port:22", "--json", db=db).stdout)[0]
    for key in ("ip_str", "port", "transport", "product", "version", "cpe", "data",
                "hostnames", "tags", "timestamp", "service", "ssh"):
        assert key in rec, key
    assert rec["ssh"]["fingerprint_sha256"].startswith("SHA256:")
    assert rec["cpe"] and rec["cpe"][0].startswith("cpe:/a:openbsd:openssh")


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("port:22 product:openssh", {("127.20.0.3", 22)}),
        ("product:OpenSSH port:2222", {("127.20.0.13", 2222)}),
        ("service:redis", {("127.20.0.4", 6379), ("127.20.0.14", 7000)}),
        ("product:nginx -port:80 -port:443", {("127.20.0.12", 8081)}),
        ("net:127.20.0.0/30 port:80", {("127.20.0.2", 80)}),
        ("ip:127.20.0.5", {("127.20.0.5", 21)}),
        ("service:ftp OR service:postgresql", {("127.20.0.5", 21), ("127.20.0.6", 5432)}),
        ("ssl.cert.subject.cn:lab.netatlas.test", {("127.20.0.2", 443)}),
        ('"vsFTPd"', {("127.20.0.5", 21)}),
        ("port:>5000 port:<7001 service:redis", {("127.20.0.4", 6379), ("127.20.0.14", 7000)}),
    ],
)
def test_search_by_field(scanned: tuple[Path, list[Any]], query: str,
                         expect: set[tuple[str, int]]) -> None:
    db, _ = scanned
    found = {(r["ip_str"], r["port"]) for r in jsonl(netatlas("search", query, "--json",
                                                              db=db).stdout)}
    assert found == expect


def test_search_by_every_identified_field(scanned: tuple[Path, list[Any]]) -> None:
    """Each lab service is found again by its own service, product and version values."""
    db, _ = scanned
    for rec in jsonl(netatlas("search", "net:127.20.0.0/24", "--json", db=db).stdout):
        clauses = [f'ip:{rec["ip_str"]}', f'port:{rec["port"]}']
        for field in ("service", "product", "version"):
            if rec.get(field):
                clauses.append(f'{field}:"{rec[field]}"')
        hits = jsonl(netatlas("search", " ".join(clauses), "--json", db=db).stdout)
        assert [(h["ip_str"], h["port"]) for h in hits] == [(rec["ip_str"], rec["port"])], clauses


def test_host_history_and_stats(scanned: tuple[Path, list[Any]]) -> None:
    db, _ = scanned
    # a second scan of one host adds history without hiding the first
    netatlas("scan", "127.20.0.3", "-p", "22", "--allow", "127.20.0.0/16",
             "--exclude-ports", "2024", "--json", db=db)
    hist = jsonl(netatlas("host", "127.20.0.3", "--json", db=db).stdout)
    assert len(hist) >= 2
    stamps = [h["timestamp"] for h in hist]
    assert stamps == sorted(stamps, reverse=True)
    table = netatlas("host", "127.20.0.3", db=db).stdout
    assert "OpenSSH" in table
    stats = json.loads(netatlas("stats", "port:>1000", "--facets", "port,product,service",
                                "--json", db=db).stdout)
    ports = {f["value"] for f in stats["facets"]["port"]}
    assert ports >= {2222, 5432, 6379, 7000, 8081, 11211}
    assert all(p > 1000 for p in ports)


def test_export_jsonl_and_csv(scanned: tuple[Path, list[Any]], tmp_path: Path) -> None:
    db, _ = scanned
    out = netatlas("export", "service:http", "--format", "jsonl", db=db).stdout
    recs = jsonl(out)
    assert {(r["ip_str"], r["port"]) for r in recs} >= {("127.20.0.2", 80), ("127.20.0.2", 443)}
    assert all(r["service"] == "http" for r in recs)
    rows = list(csv.DictReader(io.StringIO(netatlas("export", "service:http", "--format", "csv",
                                                    db=db).stdout)))
    assert len(rows) == len(recs)
    assert {"ip_str", "port", "product", "version"} <= set(rows[0])


def test_bad_query_reports_column(tmp_path: Path) -> None:
    proc = netatlas("search", "port:>", db=tmp_path / "x.db", check=False)
    assert proc.returncode == 2
    assert "column" in proc.stderr


class _CountingListener:
    """A listener outside the allow list that counts every connection it receives."""

    def __init__(self, ip: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_out_of_scope_target_refused_before_any_packet(tmp_path: Path) -> None:
    listener = _CountingListener("127.30.0.1")
    try:
        proc = netatlas("scan", "127.20.0.2", "127.30.0.1", "-p", str(listener.port),
                        "--allow", "127.20.0.0/16", db=tmp_path / "s.db", check=False)
        time.sleep(0.3)
        assert proc.returncode == 3, proc.stderr
        assert "127.30.0.1" in proc.stderr and "allow" in proc.stderr
        assert listener.accepted == 0
        # and with no allow list at all, nothing is scanned either
        proc = netatlas("scan", "127.30.0.1", "-p", str(listener.port), db=tmp_path / "s.db",
                        check=False)
        assert proc.returncode == 3
        assert listener.accepted == 0
    finally:
        listener.close()
