"""`netatlas store`: migrate, info, and copy a whole store to either backend, resumably."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from netatlas.cli.main import cli
from netatlas.model import Finding, Observation, Scan
from netatlas.store import CveEntry, CveRange, open_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(path: Path, first: int, n: int) -> None:
    s = open_store(path)
    s.begin_scan(Scan(id="s1", started=T0, args={"targets": ["127.20.0.0/24"]}))
    for i in range(first, first + n):
        for day in range(2):  # history: every service seen twice
            s.add(Observation(ip=f"127.20.{i // 250}.{i % 250 + 1}", port=80, transport="tcp",
                              timestamp=T0 + timedelta(days=day, seconds=i), scan_id="s1",
                              service="http", product="nginx", version=f"1.2{day}.0",
                              data=b"HTTP/1.1 200 OK\r\n\xff",
                              risks=[Finding("x", "low", "t")] if i % 7 == 0 else []))
    s.flush()
    s.close()


def test_copy_moves_everything_and_resumes(tmp_path: Path, store_url: str) -> None:
    src = tmp_path / "src.db"
    _fill(src, 0, 3000)
    s = open_store(src)
    secret, _ = s.create_key("read", "ci")
    s.cve_import([CveEntry("CVE-1", 5.0, "medium", "x", None, None,
                           [CveRange("a", "f5", "nginx", "*", None, None, None, "1.25",
                                     "cpe:2.3:a:f5:nginx:*")])])
    s.close()
    runner = CliRunner()
    res = runner.invoke(cli, ["store", "copy", "--from", str(src), "--to", store_url])
    assert res.exit_code == 0, res.output
    assert "copied 6,000 observations" in res.output
    # more arrives in the source; the second run copies only that
    _fill(src, 3000, 10)
    res = runner.invoke(cli, ["store", "copy", "--from", str(src), "--to", store_url])
    assert res.exit_code == 0 and "copied 20 observations" in res.output, res.output
    a, b = open_store(src), open_store(store_url)
    try:
        assert b.count("") == a.count("") == 3010
        assert b.count("version:1.21.0 risk:x") == a.count("version:1.21.0 risk:x") > 0
        assert b.host("127.20.0.5") == a.host("127.20.0.5")
        assert len(b.host("127.20.0.5")) == 2
        assert [x.id for x in b.scans()] == ["s1"]
        assert b.verify_key(secret) is not None and b.cve_count() == 1
    finally:
        a.close()
        b.close()


def test_migrate_and_info(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _fill(db, 0, 5)
    runner = CliRunner()
    res = runner.invoke(cli, ["store", "migrate", "--db", str(db)])
    assert res.exit_code == 0 and "(up to date)" in res.output, res.output
    res = runner.invoke(cli, ["store", "info", "--db", str(db), "--json"])
    info = json.loads(res.output)
    assert (info["services"], info["observations"], info["scans"]) == (5, 10, 1)


def test_copy_refuses_the_same_store(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["store", "copy", "--from", str(tmp_path / "a.db"),
                                   "--to", str(tmp_path / "a.db")])
    assert res.exit_code == 2 and "same store" in res.output
