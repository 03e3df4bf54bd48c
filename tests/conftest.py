"""Shared fixtures. ``lab`` brings up the real lab services (Debian packages bound to
127.20.x.y) once per test session and stops, at the end, only what it started.
``pg_server`` / ``pg_url``: a throwaway PostgreSQL server per session, a fresh database
per test (tests/pg.py). ``store`` / ``store_url`` / ``session_store_url``: the
conformance fixtures, one of each store backend (tests/stores.py). In CI (the variable
CI set), a lab test that would skip because a lab service is missing fails instead
(tests/labsvc.py)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from netatlas.lab.pytest_plugin import lab_up, running_lab  # noqa: F401
from tests.labsvc import fail_lab_skips_in_ci
from tests.pg import pg_server, pg_url  # noqa: F401
from tests.stores import session_store_url, store, store_url  # noqa: F401

lab = lab_up


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, pytest.TestReport]:
    """In CI (CI set), a lab test that would skip for a missing lab service fails."""
    report: pytest.TestReport = yield
    fail_lab_skips_in_ci(item, report)
    return report
