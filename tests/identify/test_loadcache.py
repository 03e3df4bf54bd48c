"""Rule sources are read once per process and again when a file changes."""

from __future__ import annotations

import os
from pathlib import Path

from netatlas.identify.engine import Identifier
from netatlas.identify.loadcache import clear
from netatlas.model import GrabResult

_RULE = """rules:
  - id: t.{name}
    field: http.server
    pattern: '^{name}/(\\d+)'
    product: {product}
    version: $1
    examples:
      - input: {name}/1
        expect: {{product: {product}, version: "1"}}
"""


def _server(ident: Identifier, header: str) -> str | None:
    result = GrabResult(service="http", sections={"http": {"status": 200, "server": header}})
    return ident.identify(result).product


def test_same_files_share_one_load(tmp_path: Path) -> None:
    clear()
    (tmp_path / "a.yaml").write_text(_RULE.format(name="alpha", product="Alpha"))
    first = Identifier(rule_paths=[tmp_path], nmap=None, fingerprints=None)
    second = Identifier(rule_paths=[tmp_path], nmap=None, fingerprints=None)
    assert second.rule_files is first.rule_files
    assert _server(second, "alpha/2") == "Alpha"


def test_edited_or_added_file_is_read_again(tmp_path: Path) -> None:
    clear()
    rule = tmp_path / "a.yaml"
    rule.write_text(_RULE.format(name="alpha", product="Alpha"))
    before = Identifier(rule_paths=[tmp_path], nmap=None, fingerprints=None)
    rule.write_text(_RULE.format(name="alpha", product="Renamed"))
    st = rule.stat()
    os.utime(rule, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a coarse clock
    edited = Identifier(rule_paths=[tmp_path], nmap=None, fingerprints=None)
    assert edited.rule_files is not before.rule_files
    assert _server(edited, "alpha/2") == "Renamed"
    assert _server(before, "alpha/2") == "Alpha"  # a running scan keeps what it loaded
    (tmp_path / "b.yaml").write_text(_RULE.format(name="beta", product="Beta"))
    added = Identifier(rule_paths=[tmp_path], nmap=None, fingerprints=None)
    assert _server(added, "beta/3") == "Beta"
