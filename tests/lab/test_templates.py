from __future__ import annotations

import re
from importlib import resources

import pytest

from netatlas.lab.templates import render

TEMPLATES = sorted(p.name for p in resources.files("netatlas.lab").joinpath("templates")
                   .iterdir() if p.name.endswith(".conf.in"))


def test_templates_ship_as_package_data() -> None:
    assert set(TEMPLATES) >= {"nginx.conf.in", "sshd_config.conf.in", "redis.conf.in",
                              "vsftpd.conf.in", "postgresql.conf.in", "exim.conf.in"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_placeholder_filled(name: str) -> None:
    text = resources.files("netatlas.lab").joinpath("templates", name).read_text()
    keys = set(re.findall(r"@([a-z_]+)@", text))
    out = render(name, **dict.fromkeys(keys, "X"))
    assert not re.search(r"@[a-z_]+@", out)
    # nothing in a lab config may listen on every address
    settings = "\n".join(ln for ln in out.splitlines() if not ln.lstrip().startswith("#"))
    assert "0.0.0.0" not in settings and "[::]" not in settings


def test_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="@ip@"):
        render("redis.conf.in", dir="/x", port=1, requirepass="")
