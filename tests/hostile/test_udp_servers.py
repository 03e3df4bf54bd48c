"""The real ``netatlas scan`` over UDP against hostile UDP servers
(tests/hostile/udp_servers.py) on 127.20.72.x, each address its own /32 in the allow
list: the scan finishes (a hang guard, no speed assertion) in bounded memory, every
server was tried, a flood or an oversize datagram leaves a bounded record, garbage
shaped as SNMP, DNS and NTP is survived, and a reply from another port or another
address is no reply: nothing is recorded for it, nothing out of scope is stored or
sent a datagram."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from netatlas.store import open_store
from tests.hostile import udp_servers as u
from tests.hostile.conftest import FIGURES, SCAN_HANG_GUARD, netatlas_argv, run_measured

PEAK_RSS_MB = 400  # as for TCP: generous
RECORD_CAP = 256 * 1024  # bytes of one stored record as JSON, whatever the server sent


@dataclass
class UdpScanned:
    range: u.Range
    returncode: int
    peak_rss_mb: float
    seconds: float
    stdout: str
    stderr: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def record(self, name: str) -> dict[str, Any] | None:
        ip = self.range.servers[name].ip
        return next((r for r in self.records if r["ip_str"] == ip), None)


@pytest.fixture(scope="module")
def udp_scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UdpScanned]:
    tmp = tmp_path_factory.mktemp("hostile-udp")
    with u.serve_udp_range(u.catalog()) as rng:
        db = tmp / "udp.db"
        allow = [arg for ip in rng.ips for arg in ("--allow", f"{ip}/32")]
        argv = netatlas_argv("scan", *rng.ips, "-p", f"U:{rng.port}", *allow,
                             "--exclude-ports", str(u.FORBIDDEN_PORT), "--json", "--db", str(db))
        code, rss, seconds = run_measured(argv, dict(os.environ), tmp / "scan", SCAN_HANG_GUARD)
        out = Path(f"{tmp / 'scan'}.stdout").read_text("utf-8", "replace")
        err = Path(f"{tmp / 'scan'}.stderr").read_text("utf-8", "replace")
        store = open_store(db)
        try:
            records = list(store.iter_search(""))
        finally:
            store.close()
        FIGURES["udp_scan"] = {
            "peak_rss_mb": round(rss, 1), "seconds": round(seconds, 1),
            "servers": len(rng.servers), "records": len(records),
            "datagrams": {h.name: h.counter.received for h in rng.servers.values()},
            "outside_datagrams": rng.outside.received}
        yield UdpScanned(rng, code, rss, seconds, out, err, records)


def test_udp_scan_finishes(udp_scanned: UdpScanned) -> None:
    assert udp_scanned.returncode == 0, udp_scanned.stderr
    summary = json.loads(udp_scanned.stdout.strip().split("\n")[-1])
    assert summary["status"] == "finished" and summary["done"] == summary["total"]
    assert "Traceback" not in udp_scanned.stderr


def test_udp_scan_memory_is_bounded(udp_scanned: UdpScanned) -> None:
    assert 0 < udp_scanned.peak_rss_mb < PEAK_RSS_MB, f"{udp_scanned.peak_rss_mb:.0f} MB"


def test_nothing_out_of_scope_is_recorded_or_contacted(udp_scanned: UdpScanned) -> None:
    scope = set(udp_scanned.range.ips)
    assert {r["ip_str"] for r in udp_scanned.records} <= scope
    assert {(r["port"], r["transport"]) for r in udp_scanned.records} <= {
        (udp_scanned.range.port, "udp")}
    assert udp_scanned.range.outside.received == 0


@pytest.mark.parametrize("name", list(u.UDP_CATEGORY))
def test_hostile_udp_server(udp_scanned: UdpScanned, name: str) -> None:
    server = udp_scanned.range.servers[name]
    assert server.counter.received > 0, f"{name} was never tried"
    rec = udp_scanned.record(name)
    if not server.recorded:
        # the answer came from another port or address: the target itself said nothing
        assert rec is None, rec
        return
    assert rec is not None, f"{name}: answered from its own address and port, not stored"
    assert len(json.dumps(rec)) < RECORD_CAP
    assert len(rec.get("data") or "") < RECORD_CAP
