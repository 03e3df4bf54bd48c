"""Nothing a scanned server sent drives the terminal (issue 15 #2): tables, CSV and
JSON lines written to a terminal show ESC, BEL, C1 controls (CSI U+009B, OSC U+009D) and
bidi overrides/isolates as visible escapes; CSV and JSON written to a file stay the
data as stored."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from netatlas.cli import escape
from netatlas.cli.escape import escape_terminal
from netatlas.cli.main import cli
from netatlas.model import Observation, Scan
from netatlas.store import open_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# OSC 52 (write the clipboard), CSI in C1, OSC in C1, BEL, RLO, an isolate, DEL
HOSTILE = "a\x1b]52;c;ZXZpbA==\x07b\x9b31mc\x9d0;t\x9cd\u202eevil\u2066x\u2069\x7fe"
RAW = ["\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\u202e", "\u2066", "\u2069", "\x7f"]


def _no_raw(text: str) -> None:
    for ch in RAW:
        assert ch not in text, repr(ch)


def _store(path: Path) -> str:
    s = open_store(path)
    s.begin_scan(Scan(id="s1", started=T0, args={}))
    s.add(Observation(ip="127.20.0.1", port=80, transport="tcp", timestamp=T0, scan_id="s1",
                      service="http", product=HOSTILE, version=HOSTILE,
                      data=HOSTILE.encode(),
                      sections={"http": {"title": HOSTILE, "status": 200}}))
    s.flush()
    s.close()
    return str(path)


def test_escape_covers_c0_del_c1_and_bidi() -> None:
    out = escape_terminal(HOSTILE)
    _no_raw(out)
    assert "\\x9b" in out and "\\u202e" in out and "\\x1b" in out
    assert escape_terminal("a\tb\nc") == "a\tb\\x0ac"
    assert escape_terminal("a\tb\nc", multiline=True) == "a\tb\nc"
    for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
              *range(0x2066, 0x206A)]:
        if c != 0x09:
            assert chr(c) not in escape_terminal(chr(c)), hex(c)
    assert escape_terminal("Ünïcödé 漢字 ok") == "Ünïcödé 漢字 ok"


@pytest.mark.parametrize("command", [["search", ""], ["host", "127.20.0.1"],
                                     ["stats", "", "--facets", "product"]])
def test_tables_escape(tmp_path: Path, command: list[str]) -> None:
    db = _store(tmp_path / "s.db")
    result = CliRunner().invoke(cli, [*command, "--db", db])
    assert result.exit_code == 0, result.output
    _no_raw(result.output)
    assert "\\x9b" in result.output or "\\x1b" in result.output


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "nmap"])
def test_export_to_a_terminal_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      fmt: str) -> None:
    db = _store(tmp_path / "s.db")
    monkeypatch.setattr(escape, "is_terminal", lambda stream: True)
    result = CliRunner().invoke(cli, ["export", "", "--format", fmt, "--db", db])
    assert result.exit_code == 0, result.output
    _no_raw(result.stdout)
    assert "evil" in result.stdout
    if fmt == "jsonl":  # still the same JSON, escaped the JSON way
        assert json.loads(result.stdout.splitlines()[0])["product"] == HOSTILE


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_a_file_is_faithful(tmp_path: Path, fmt: str) -> None:
    db = _store(tmp_path / "s.db")
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(cli, ["export", "", "--format", fmt, "-o", str(out),
                                      "--db", db])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        row = next(iter(csv.DictReader(io.StringIO(text))))
        assert row["product"] == HOSTILE and row["title"] == HOSTILE
    else:
        assert json.loads(text.splitlines()[0])["product"] == HOSTILE


def test_gzip_export_is_not_written_to_a_terminal(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = _store(tmp_path / "s.db")
    monkeypatch.setattr(escape, "is_terminal", lambda stream: True)
    result = CliRunner().invoke(cli, ["export", "", "--format", "shodan", "--db", db])
    assert result.exit_code == 2
    assert "-o FILE" in result.output


def test_cve_import_errors_are_escaped(tmp_path: Path) -> None:
    feed = tmp_path / "feed\x1b]0;pwn\x07\u202e.json"
    feed.write_text('{"vulnerabilities": [{"cve": 5}], "x": "\x1b[31m"}')
    result = CliRunner().invoke(cli, ["cve", "import", str(feed), "--db",
                                      str(tmp_path / "s.db")])
    assert result.exit_code == 1
    _no_raw(result.output)
    assert "\\x1b]0;pwn\\x07\\u202e.json" in result.output
