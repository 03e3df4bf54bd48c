"""Find running lab services for a test, or skip it (the lab grows over time, and a
machine may lack a daemon's package)."""

from __future__ import annotations

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
