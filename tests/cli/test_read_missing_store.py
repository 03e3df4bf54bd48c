"""Read commands never create a store (issue 15 #6): a mistyped --db says the store
does not exist, exits non-zero and leaves no file or folder behind; writing commands
still create theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from netatlas.cli.main import cli

READS = [["search", "port:80"], ["search", "-port:80"], ["host", "127.20.0.1"], ["stats"],
         ["export"], ["scans"], ["store", "info"], ["keys", "list"],
         ["keys", "revoke", "abc"]]


@pytest.mark.parametrize("argv", READS, ids=lambda a: " ".join(a))
def test_read_command_on_missing_store(tmp_path: Path, argv: list[str]) -> None:
    db = tmp_path / "typo" / "dir" / "x.db"
    result = CliRunner().invoke(cli, [*argv, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert "does not exist" in result.output and str(db) in result.output
    assert not (tmp_path / "typo").exists()


def test_read_command_through_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "typo" / "x.db"
    result = CliRunner().invoke(cli, ["search", "x"], env={"NETATLAS_DB": str(db)})
    assert result.exit_code == 1
    assert not (tmp_path / "typo").exists()


def test_copy_from_a_missing_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["store", "copy", "--from", str(tmp_path / "no.db"),
                                      "--to", str(tmp_path / "out" / "new.db")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "no.db").exists()


def test_writing_commands_create_the_store(tmp_path: Path) -> None:
    db = tmp_path / "new" / "x.db"
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "read", "--name", "ci",
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert db.exists()
    result = CliRunner().invoke(cli, ["search", "", "--db", str(db)])
    assert result.exit_code == 0, result.output
