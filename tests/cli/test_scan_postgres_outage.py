"""PostgreSQL going away mid-scan: the scan says so, holds what it found, and carries on
when the server is back — ending with exactly the records an undisturbed scan stores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netatlas.lab.pgserver import TempPostgres
from tests.cli.test_scan_lab import jsonl, netatlas

pytestmark = pytest.mark.lab


def _stored(db: str | Path) -> set[tuple[str, int]]:
    out = netatlas("search", "", "--json", "--limit", "10000", db=db).stdout
    return {(r["ip_str"], r["port"]) for r in jsonl(out)}


def test_scan_survives_postgres_restart(lab: list[Any], tmp_path: Path,
                                        pg_server: TempPostgres) -> None:
    url = pg_server.create_database("outage")
    prefix = lab[0].ip.rsplit(".", 1)[0]
    spec = netatlas("lab", "ports", db=tmp_path / "unused.db").stdout.strip()
    tcp = spec.split(",U:")[0]
    # the lab's /24 x its TCP ports at a pace that spreads its finds over ~18 s: some
    # arrive while the server is down
    scan = [f"{prefix}.0/24", "-p", tcp, "--exclude-ports", "2024",
            "--allow", "127.20.0.0/16", "--seed", "11", "--rate", "600"]
    env = {**os.environ, "NETATLAS_DB": url}
    proc = subprocess.Popen([sys.executable, "-m", "netatlas.cli.main", "scan", *scan,
                             "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)
        pg_server.kill()
        time.sleep(5.0)
        assert proc.poll() is None, proc.communicate()  # still scanning, not crashed
        pg_server.restart()
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
        if pg_server.pid is None:
            pg_server.restart()
    assert proc.returncode == 0, err
    # one line when a write met the outage (whether one did depends on when the finds
    # came; the writer's message itself is pinned in tests/store/test_postgres_backend.py)
    assert "Traceback" not in err and err.count("unreachable (") <= 1, err
    fresh = tmp_path / "fresh.db"
    netatlas("scan", *scan, db=fresh)
    got = _stored(url)
    assert got and got == _stored(fresh)
    scans = jsonl(netatlas("scans", "--json", db=url).stdout)
    assert [s["status"] for s in scans] == ["finished"]
    pg_server.drop_database("outage")
