"""Find one running lab service by its service name, or skip (the lab grows over time)."""

from __future__ import annotations

from typing import Any

import pytest


def lab_service(request: pytest.FixtureRequest, service: str) -> Any:
    try:
        from netatlas.lab.services import CATALOGUE
    except ImportError as e:
        pytest.skip(f"lab not available: {e}")
    if not any(s.service == service for s in CATALOGUE):
        pytest.skip(f"the lab catalogue has no {service} service")
    try:
        services = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        pytest.skip("no `lab` fixture")
    for s in services:
        if s.service == service and s.running and s.port != 2024:
            return s
    pytest.skip(f"lab {service} service is not running")
