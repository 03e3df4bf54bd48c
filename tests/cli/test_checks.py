"""`netatlas checks` lists the whole table, and the README documents every check."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from netatlas.assess import CHECKS
from netatlas.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_checks_json_is_the_table() -> None:
    out = CliRunner().invoke(cli, ["checks", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert [(r["id"], r["severity"], r["title"]) for r in rows] == [
        (c.id, c.severity, c.title) for c in CHECKS]


def test_readme_lists_every_check() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \| (?:info|low|medium|high|critical) \|",
                                README.read_text(), re.M))
    missing = sorted({c.id for c in CHECKS} - documented)
    assert not missing, f"add these checks to the README's risk table: {missing}"
