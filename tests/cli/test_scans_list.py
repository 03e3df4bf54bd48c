"""`netatlas scans` (issue 15 #8): the whole scan id (what --resume needs), a scan
whose process is gone shown as interrupted, and done/total the same numbers the scan
printed. The one scan run probes loopback only, port 1, with 2024 excluded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from netatlas.cli.main import cli
from netatlas.cli.runner import record_runner
from netatlas.model import Scan
from netatlas.store import open_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LONG_ID = "20261101T000000-abcdef-with-a-long-tail"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _scan(store_path: Path, scan_id: str, pid: int | None) -> None:
    s = open_store(store_path)
    s.begin_scan(Scan(id=scan_id, started=T0, args={"targets": ["127.20.0.0/16"] * 6},
                      total=100, done=40))
    if pid is not None:
        record_runner(s, scan_id, pid)
    s.flush()
    s.close()


def test_the_whole_id_is_shown(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _scan(db, LONG_ID, None)
    result = CliRunner().invoke(cli, ["scans", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert LONG_ID in result.output


def test_a_scan_whose_process_is_gone_is_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _scan(db, "dead", _dead_pid())
    _scan(db, "alive", os.getpid())
    _scan(db, "unknown", None)  # run elsewhere (a cluster's workers): not judged here
    result = CliRunner().invoke(cli, ["scans", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    status = {d["id"]: d["status"] for d in map(json.loads, result.output.splitlines())}
    assert status == {"dead": "interrupted", "alive": "running", "unknown": "running"}
    table = CliRunner().invoke(cli, ["scans", "--db", str(db)]).output
    line = next(x for x in table.splitlines() if "dead" in x)
    assert "interrupted" in line and "running" not in line


def test_done_total_match_what_the_scan_printed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    run = CliRunner().invoke(cli, ["scan", "127.20.41.1-127.20.41.3", "--allow",
                                   "127.20.41.0/24", "-p", "1", "--exclude-ports", "2024",
                                   "--timeout", "0.2", "--no-grab", "--db", str(db)])
    assert run.exit_code == 0, run.output
    listed = CliRunner().invoke(cli, ["scans", "--db", str(db), "--json"])
    row = json.loads(listed.output.splitlines()[0])
    said = f"{row['done']:,}/{row['total']:,}"
    assert said in run.output  # the scan's own closing line
    table = CliRunner().invoke(cli, ["scans", "--db", str(db)]).output
    assert said in table
