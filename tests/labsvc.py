"""Find running lab services for a test, or skip it (the lab grows over time, and a
machine may lack a daemon's package) — except in CI (the environment variable CI set, as
.ci/run does), where a lab test that would skip for a missing lab service fails instead:
a green CI must mean the lab tests ran (``fail_lab_skips_in_ci``, hooked in conftest)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from netatlas.lab.services import CATALOGUE, LabError


def running_services(request: pytest.FixtureRequest) -> list[Any]:
    """Every running lab service (never one on port 2024), from the session's lab."""
    try:
        services = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        pytest.skip("no `lab` fixture")
    except LabError as e:  # a daemon's package is missing on this machine
        pytest.skip(f"lab unavailable: {e}")
    return [s for s in services if s.running and s.port != 2024]


def lab_named(request: pytest.FixtureRequest, name: str) -> Any:
    """The running lab service called ``name`` (a catalogue entry's name)."""
    svc = next((s for s in running_services(request) if s.name == name), None)
    if svc is None:
        pytest.skip(f"lab {name} is not running")
    return svc


def lab_service(request: pytest.FixtureRequest, service: str) -> Any:
    """The first running lab service speaking ``service`` (nmap's name: ssh, sip...)."""
    if not any(s.service == service for s in CATALOGUE):
        pytest.skip(f"the lab catalogue has no {service} service")
    svc = next((s for s in running_services(request) if s.service == service), None)
    if svc is None:
        pytest.skip(f"lab {service} service is not running")
    return svc


LAB_FIXTURES = frozenset({"lab", "lab_up", "running_lab", "lab_services"})
_LAB_WORD = re.compile(r"\blab\b", re.IGNORECASE)
# Not the machine's fault: a test written ahead of the catalogue.
_NOT_IN_CATALOGUE = "the lab catalogue has no "


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def fail_lab_skips_in_ci(item: pytest.Item, report: pytest.TestReport) -> None:
    """In CI, turn the skip of a lab test (marked ``lab``, using the lab fixtures, or
    skipped for a reason that names the lab) into a failure that says what was missing."""
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if _NOT_IN_CATALOGUE in reason:
        return
    fixtures = set(getattr(item, "fixturenames", ()))
    if (item.get_closest_marker("lab") is None and not fixtures & LAB_FIXTURES
            and not _LAB_WORD.search(reason)):
        return
    report.outcome = "failed"
    report.longrepr = (f"CI={os.environ.get('CI')}: this lab test would have skipped"
                       f" ({reason.removeprefix('Skipped: ')}); in CI a missing lab service"
                       " fails (scripts/install-system-deps.sh, netatlas lab up)")
