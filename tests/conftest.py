"""Shared fixtures. ``lab`` brings up the real lab services (Debian packages bound to
127.20.x.y) once per test session and stops, at the end, only what it started.
``pg_server`` / ``pg_url``: a throwaway PostgreSQL server per session, a fresh database
per test (tests/pg.py). ``store`` / ``store_url`` / ``session_store_url``: the
conformance fixtures, one of each store backend (tests/stores.py)."""

from __future__ import annotations

from netatlas.lab.pytest_plugin import lab_up, running_lab  # noqa: F401
from tests.pg import pg_server, pg_url  # noqa: F401
from tests.stores import session_store_url, store, store_url  # noqa: F401

lab = lab_up
