"""Config templates shipped as package data (``templates/*.conf.in``).

Placeholders are ``@name@``: nginx and exim configs use ``$`` themselves, so
``string.Template`` would fight them. A placeholder without a value is an error, never
silently left in a config a daemon will read.
"""

from __future__ import annotations

import re
from importlib import resources

_PLACEHOLDER = re.compile(r"@([a-z_]+)@")


def render(name: str, **values: object) -> str:
    text = resources.files("netatlas.lab").joinpath("templates", name).read_text("utf-8")

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template {name}: no value for @{key}@")
        return str(values[key])

    return _PLACEHOLDER.sub(sub, text)
