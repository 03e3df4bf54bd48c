"""Shared fixtures. ``lab`` brings up the real lab services (Debian packages bound to
127.20.x.y) once per test session and stops what it started at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def lab() -> Iterator[list[Any]]:
    from netatlas.lab import Lab

    lab = Lab()
    already = {s.name for s in lab.status() if s.running}
    services = lab.up()
    yield services
    if not already:
        lab.down()
