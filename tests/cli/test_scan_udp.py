"""End to end over UDP: scan the lab's UDP services (Net-SNMP, chrony, dnsmasq 53/udp),
mixed with TCP, find them by transport and port, and resume an interrupted UDP scan
without losing an endpoint. Only the UDP part of the lab is started (udp_lab)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from netatlas import pipeline
from netatlas.store import open_store

from ..grab import udpserver
from .test_scan_lab import jsonl, netatlas

udp_lab = udpserver.udp_lab  # the UDP part of the lab only

pytestmark = pytest.mark.lab


def _net(svcs: dict[str, Any]) -> str:
    return str(ipaddress.ip_network(f"{next(iter(svcs.values())).ip}/24", strict=False))


@pytest.fixture(scope="module")
def udp_scanned(udp_lab: dict[str, Any],
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    if len(udp_lab) < 4:
        pytest.skip(f"UDP lab incomplete: {sorted(udp_lab)}")
    db = tmp_path_factory.mktemp("udp") / "udp.db"
    addrs = sorted({s.ip for s in udp_lab.values()})
    netatlas("scan", *addrs, "-p", "T:53,U:53,123,161,1161", "--exclude-ports", "2024",
             "--allow", _net(udp_lab), "--json", db=db)
    return db, udp_lab


def test_every_udp_service_identified(udp_scanned: tuple[Path, dict[str, Any]]) -> None:
    db, lab = udp_scanned
    recs = {(r["ip_str"], r["port"], r["transport"]): r for r in jsonl(netatlas(
        "search", "transport:udp", "--json", "--limit", "100", db=db).stdout)}
    assert set(recs) == {(s.ip, s.port, "udp") for s in lab.values()}
    wrong = []
    for svc in lab.values():
        rec = recs[(svc.ip, svc.port, "udp")]
        got = (rec["service"], rec["product"], rec["version"] if svc.version_visible else None)
        want = (svc.service, svc.product, svc.version if svc.version_visible else None)
        if got != want:
            wrong.append(f"{svc.name}: {got} != {want}")
    assert not wrong, wrong


def test_udp_records_and_findings(udp_scanned: tuple[Path, dict[str, Any]]) -> None:
    db, lab = udp_scanned
    [snmp] = jsonl(netatlas("search", "port:161", "--json", db=db).stdout)
    assert snmp["transport"] == "udp" and snmp["snmp"]["community_public"] is True
    assert snmp["snmp"]["engine_vendor"] == "Net-SNMP"
    assert [r["id"] for r in snmp["risks"]] == ["snmp-public"]
    assert "public-community" in snmp["tags"]
    [private] = jsonl(netatlas("search", "port:1161", "--json", db=db).stdout)
    assert private["risks"] == [] and private["snmp"]["versions"] == ["v3"]
    # dnsmasq answers 53 over both transports: two records, one per transport
    dns = jsonl(netatlas("search", f"ip:{lab['dns-udp'].ip}", "--json", db=db).stdout)
    assert sorted(r["transport"] for r in dns) == ["tcp", "udp"]
    assert {r["dns"]["version_bind"] for r in dns} == {f"dnsmasq-{lab['dns-udp'].version}"}


async def test_interrupted_udp_scan_resumes_without_loss(
        udp_lab: dict[str, Any], tmp_path: Path) -> None:
    """Slow (rate-limited) UDP scan over many silent ports, cancelled part-way: the
    watermark it stored lets the resumed scan find every lab UDP service (those found
    past the watermark before the interruption are probed again, never skipped)."""
    if len(udp_lab) < 4:
        pytest.skip("UDP lab incomplete")
    addrs = sorted({s.ip for s in udp_lab.values()})
    store = open_store(tmp_path / "resume.db")
    cfg = pipeline.ScanConfig(targets=addrs, ports="U:53,123,161,1161,20000-20040",
                              exclude_ports="2024", allow=[_net(udp_lab)], rate=60.0,
                              timeout=1.0)  # a loaded CI machine answers late
    scan, plan = pipeline.start_scan(store, cfg)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pipeline.run(store, scan, cfg, plan), timeout=1.2)
    first = store.get_scan(scan.id)
    assert first is not None and first.status == "interrupted"
    # part-way: something was found or passed, not all; the watermark may still be 0
    # when an endpoint found first was mid-grab (it stays pending until stored)
    assert first.done < first.total and (first.done > 0 or first.open_ports > 0)
    scan2, cfg2, plan2 = pipeline.resume_scan(store, scan.id)
    done = await pipeline.run(store, scan2, cfg2, plan2)
    assert done.status == "finished" and done.done == done.total
    store.flush()
    found = [(r["ip_str"], r["port"]) for r in store.search("transport:udp", limit=100)]
    assert sorted(set(found)) == sorted((s.ip, s.port) for s in udp_lab.values())
