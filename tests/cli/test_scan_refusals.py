"""`netatlas scan` says what the scope refused and why, and fails when nothing is left
(issue 15 #5). Only loopback is probed, on port 1, with 2024 excluded."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from netatlas.cli.main import EXIT_SCOPE_ERROR, cli
from netatlas.store import open_store

BASE = ["-p", "1", "--exclude-ports", "2024", "--timeout", "0.2", "--no-grab"]


def _scans(db: Path) -> list[str]:
    s = open_store(db)
    try:
        return [scan.status for scan in s.scans()]
    finally:
        s.close()


def test_mapped_target_cannot_reach_a_denied_ipv4_address(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "::ffff:127.99.0.1", "--allow", "::ffff:0:0/96",
                                      *BASE, "--db", str(db)])
    assert result.exit_code == EXIT_SCOPE_ERROR, result.output
    assert "nothing to scan" in result.output
    assert "127.99.0.1" in result.output and "loopback" in result.output
    assert _scans(db) == []  # no scan registered, nothing sent


def test_everything_excluded_fails_with_the_reason(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "127.20.41.7", "--allow", "127.20.41.0/24",
                                      "--exclude", "127.20.41.0/29", *BASE, "--db", str(db)])
    assert result.exit_code == EXIT_SCOPE_ERROR, result.output
    assert "127.20.41.7 (excluded: 127.20.41.0/29)" in result.output


def test_no_port_left_fails(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "127.20.41.7", "--allow", "127.20.41.0/24",
                                      "-p", "2024", "--exclude-ports", "2024", "--db", str(db)])
    assert result.exit_code == EXIT_SCOPE_ERROR, result.output
    assert "no port is left" in result.output


def test_partly_denied_targets_are_named(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(cli, ["scan", "127.20.41.1-127.20.41.3", "--allow",
                                      "127.20.41.0/24", "--exclude", "127.20.41.2", *BASE,
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "skipped 1 address" in result.output
    assert "127.20.41.2 (excluded: 127.20.41.2)" in result.output
    assert _scans(db) == ["finished"]
