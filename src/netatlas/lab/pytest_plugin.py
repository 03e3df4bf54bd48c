"""Reusable pytest fixtures for tests that need the real lab.

Use from any test folder's conftest.py::

    from netatlas.lab.pytest_plugin import lab_up, running_lab  # noqa: F401

``running_lab`` brings the lab up once per session and, at the end, stops only the
daemons this session started (a lab someone started by hand stays up). ``lab_up`` is the
list of services (ground truth with versions and PIDs). Set NETATLAS_LAB_NET (e.g.
127.20.9.0/24) to run the tests on a second lab beside the default one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netatlas.lab.lab import Lab
from netatlas.lab.services import LabService


@pytest.fixture(scope="session")
def running_lab() -> Iterator[Lab]:
    lab = Lab()
    before = {s.name for s in lab.status() if s.running}
    lab.up()
    yield lab
    started = [s.name for s in lab.status() if s.running and s.name not in before]
    if started:
        lab.down(started)


@pytest.fixture(scope="session")
def lab_up(running_lab: Lab) -> list[LabService]:
    return running_lab.status()
