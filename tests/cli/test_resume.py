"""Ctrl-C keeps what was found; --resume continues from the watermark and finishes
with the same open set a single uninterrupted scan finds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netatlas.store import open_store
from tests.cli.test_scan_lab import jsonl, netatlas

pytestmark = pytest.mark.lab

def scan_args(lab: list[Any]) -> list[str]:
    """The first 16 addresses of the lab's /24 (wherever NETATLAS_LAB_NET put it)."""
    prefix = lab[0].ip.rsplit(".", 1)[0]
    return [f"{prefix}.0/28", "-p", "1-200", "--exclude-ports", "2024",
            "--allow", "127.20.0.0/16", "--seed", "7", "--no-grab"]


def wait_for_progress(db: str, timeout: float = 60.0) -> None:
    """Until the store holds a running scan past its first watermark."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = open_store(db)
        try:
            if any(s.done > 0 for s in store.scans()):
                return
        finally:
            store.close()
        time.sleep(0.2)
    pytest.fail("the scan recorded no progress")


def test_interrupt_then_resume(lab: list[Any], tmp_path: Path, store_url: str) -> None:
    """On each backend: the interrupted scan's store, resumed, ends as a fresh scan's."""
    scan = scan_args(lab)
    db = store_url
    env = {**os.environ, "NETATLAS_DB": str(db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netatlas.cli.main", "scan", *scan, "--rate", "500"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Interrupt once the scan has recorded progress, not after a fixed sleep: on a
    # loaded machine the interpreter may still be importing at any fixed time.
    wait_for_progress(db)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "--resume" in err

    scans = jsonl(netatlas("scans", "--json", db=db).stdout)
    assert len(scans) == 1
    first = scans[0]
    assert first["status"] == "interrupted"
    assert 0 < first["done"] < first["total"]

    # what the scan visits cannot change on resume; its pace can
    refused = netatlas("scan", "--resume", first["id"], "--seed", "8", db=db, check=False)
    assert refused.returncode == 2 and "cannot change on --resume" in refused.stderr
    out = netatlas("scan", "--resume", first["id"], "--rate", "5000", "--json", db=db).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "finished"
    assert jsonl(netatlas("scans", "--json", db=db).stdout)[0]["args"]["rate"] == 5000

    resumed = {(r["ip_str"], r["port"]) for r in jsonl(
        netatlas("search", "", "--json", "--limit", "10000", db=db).stdout)}
    fresh_db = tmp_path / "fresh.db"
    netatlas("scan", *scan, db=fresh_db)
    fresh = {(r["ip_str"], r["port"]) for r in jsonl(
        netatlas("search", "", "--json", "--limit", "10000", db=fresh_db).stdout)}
    assert fresh and resumed == fresh
