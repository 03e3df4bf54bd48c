"""Command-line argument handling (issue 15 #4): a query may start with `-`, errors keep
their line breaks, and every numeric option out of its range is refused by click with a
message naming the option, before anything is opened or sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from netatlas.cli.main import cli
from netatlas.model import Observation, Scan
from netatlas.store import open_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _store(path: Path) -> str:
    s = open_store(path)
    s.begin_scan(Scan(id="s1", started=T0, args={}))
    for port in (22, 80):
        s.add(Observation(ip="127.20.0.1", port=port, transport="tcp", timestamp=T0,
                          scan_id="s1", service="ssh" if port == 22 else "http"))
    s.flush()
    s.close()
    return str(path)


@pytest.mark.parametrize("rest", [["-port:80"], ["--", "-port:80"],
                                  ["-port:80", "--limit", "10"], ["--limit=10", "-port:80"]])
def test_query_with_leading_dash_is_a_query(tmp_path: Path, rest: list[str]) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["search", "--db", db, "--json", *rest])
    assert result.exit_code == 0, result.output
    assert '"port": 22' in result.output and '"port": 80' not in result.output


def test_stats_and_export_take_a_negated_query(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["stats", "-port:80", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert '"total": 1' in result.output
    result = CliRunner().invoke(cli, ["export", "-service:http", "--db", db])
    assert result.exit_code == 0, result.output
    assert '"port": 22' in result.output and '"port": 80' not in result.output


def test_unknown_option_is_still_refused(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["search", "--limt", "5", "--db", db])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_multi_line_error_keeps_its_line_breaks(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["search", "port:(", "--db", db])
    assert result.exit_code == 2
    assert "\\x0a" not in result.output
    assert "\n" in result.output.strip()  # the caret line under the query
    assert "^" in result.output


@pytest.mark.parametrize("option,value", [
    ("--grab-concurrency", "0"), ("--rate", "-5"), ("--rate", "0"), ("--concurrency", "0"),
    ("--timeout", "-1"), ("--timeout", "0"), ("--retries", "-3"), ("--banner-wait", "-1"),
    ("--top-ports", "0"), ("--shards", "0"),
])
def test_scan_numeric_options_are_bounded(tmp_path: Path, option: str, value: str) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "127.0.0.1", "--allow", "127.0.0.1/32",
                                      "-p", "1", "--exclude-ports", "2024", option, value,
                                      "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and option in result.output
    assert "Traceback" not in result.output
    assert not db.exists()  # refused before the store was opened


@pytest.mark.parametrize("option", ["--limit", "--offset"])
def test_search_paging_options_are_bounded(tmp_path: Path, option: str) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["search", "", option, "-5", "--db", db])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and option in result.output


def test_stats_size_is_bounded(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, ["stats", "", "--size", "0", "--db", db])
    assert result.exit_code == 2
    assert "--size" in result.output


def test_a_scan_that_raises_is_marked_failed(tmp_path: Path) -> None:
    """A GeoIP file that is not one fails the scan as it starts (nothing is sent)."""
    bad = tmp_path / "geo.mmdb"
    bad.write_text("not a MaxMind database")
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "127.0.0.1", "--allow", "127.0.0.1/32",
                                      "-p", "1", "--exclude-ports", "2024", "--geoip",
                                      str(bad), "--db", str(db)])
    assert result.exit_code == 1
    assert "failed" in result.output and "MaxMind" in result.output
    s = open_store(db)
    try:
        assert [scan.status for scan in s.scans()] == ["failed"]
    finally:
        s.close()
