"""netatlas REST API: the native JSON API (/api/v1), Shodan-compatible endpoints, API
keys with roles and per-key rate limits. ``create_app`` builds the ASGI app."""

from __future__ import annotations

from netatlas.api._app import create_app
from netatlas.api._services import Services
from netatlas.store.base import ROLES, ApiKey

__all__ = ["ROLES", "ApiKey", "Services", "create_app"]
