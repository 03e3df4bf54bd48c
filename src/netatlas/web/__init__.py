"""netatlas web UI: server-rendered pages (search, host, dashboard, map, relation graph).

The API's app mounts it: ``app.include_router(create_router(services))``, where
``services.store`` is a Store and ``services.geoip`` (optional) has ``lookup(ip)``.
"""

from __future__ import annotations

from netatlas.web._router import create_router

__all__ = ["create_router"]
