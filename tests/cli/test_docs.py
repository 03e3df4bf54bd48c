"""Docs stay honest: every command and every long option of the CLI appears in the
README, and every search field in `--help-fields`."""

from __future__ import annotations

from pathlib import Path

import click

from netatlas.cli.main import cli
from netatlas.query import FIELDS, help_text

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, prefix + name + " "))
    return out


def test_every_command_and_option_is_in_the_readme() -> None:
    missing = []
    for name, cmd in _commands(cli):
        if f"netatlas {name}" not in README and f"`{name}" not in README:
            missing.append(f"command {name}")
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in README:
                    missing.append(f"{name} {opt}")
    assert not missing, "undocumented in README.md: " + ", ".join(sorted(set(missing)))


def test_every_search_field_is_in_the_field_help() -> None:
    text = help_text()
    assert not [f for f in FIELDS if f not in text]
