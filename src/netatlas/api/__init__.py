"""netatlas REST API: the native JSON API (/api/v1), Shodan-compatible endpoints, API
keys with roles and per-key rate limits. ``create_app`` builds the ASGI app.

The package imports FastAPI only when ``create_app`` or ``Services`` is first used:
the command line reads serve's defaults (``_limits``) without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netatlas.store.base import ROLES, ApiKey

if TYPE_CHECKING:
    from netatlas.api._app import create_app
    from netatlas.api._services import Services

__all__ = ["ROLES", "ApiKey", "Services", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from netatlas.api._app import create_app
        return create_app
    if name == "Services":
        from netatlas.api._services import Services
        return Services
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
