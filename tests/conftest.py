"""Shared fixtures. ``lab`` brings up the real lab services (Debian packages bound to
127.20.x.y) once per test session and stops, at the end, only what it started.
``pg_server`` / ``pg_url``: a throwaway PostgreSQL server per session, a fresh database
per test (tests/pg.py). ``store`` / ``store_url`` / ``session_store_url``: the
conformance fixtures, one of each store backend (tests/stores.py). In CI (the variable
CI set), a lab test that would skip because a lab service is missing fails instead
(tests/labsvc.py). Under pytest-xdist (scripts/test.sh runs ``-n``), the tests are split
into groups that cannot disturb each other (tests/xdist_groups.py)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Generator
from typing import Any

import pytest

from netatlas.lab.pytest_plugin import lab_up, running_lab  # noqa: F401
from tests.labsvc import fail_lab_skips_in_ci
from tests.pg import pg_server, pg_url  # noqa: F401
from tests.stores import session_store_url, store, store_url  # noqa: F401
from tests.xdist_groups import (
    GroupScheduling,
    assign_groups,
    check_lab_fixture,
    order_groups,
    start_groups,
)

lab = lab_up


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, pytest.TestReport]:
    """In CI (CI set), a lab test that would skip for a missing lab service fails."""
    report: pytest.TestReport = yield
    fail_lab_skips_in_ci(item, report)
    return report


_GROUPS_FILE: list[Any] = []


def pytest_configure(config: pytest.Config) -> None:
    groups = start_groups(config)
    if groups is not None:
        _GROUPS_FILE.append(groups)


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _GROUPS_FILE:
        path.unlink(missing_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> GroupScheduling | None:
    """``--dist loadgroup``: the groups of tests/xdist_groups.py."""
    return GroupScheduling(config, log) if _GROUPS_FILE else None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]
                                  ) -> Generator[None, None, None]:
    """With xdist, every test in its group (tests/xdist_groups.py), the shared groups
    first once pytest has ordered the tests by their fixtures."""
    assign_groups(items)
    yield
    order_groups(items)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any],
                         request: pytest.FixtureRequest) -> None:
    """With xdist, the lab only ever for the lab group's tests."""
    check_lab_fixture(fixturedef, request)


# The hostile suite's figures (tests/hostile/conftest.py) are gathered where its tests
# run; under xdist, a worker hands them to the controller, which prints them.
_HOSTILE = "tests.hostile.conftest"
_HOSTILE_FROM_WORKERS: list[dict[str, Any]] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    hostile = sys.modules.get(_HOSTILE)
    workeroutput = getattr(session.config, "workeroutput", None)
    if hostile is not None and workeroutput is not None:
        workeroutput["hostile_figures"] = {
            "figures": hostile.FIGURES,
            "fuzz": {name: dict(outcomes) for name, outcomes in hostile.FUZZ.items()}}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    data = getattr(node, "workeroutput", {}).get("hostile_figures")
    if data and (data["figures"] or data["fuzz"]):
        _HOSTILE_FROM_WORKERS.append(data)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _HOSTILE_FROM_WORKERS or _HOSTILE in sys.modules:
        return
    import tests.hostile.conftest as hostile

    for data in _HOSTILE_FROM_WORKERS:
        hostile.FIGURES.update(data["figures"])
        for name, outcomes in data["fuzz"].items():
            hostile.FUZZ.setdefault(name, Counter()).update(outcomes)
    hostile.pytest_terminal_summary(terminalreporter)
