"""The FastAPI application: native API, Shodan-compatible API and (when present) the
web UI, all over one ``Services`` object at ``app.state.services``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from netatlas.api import _alerts, _errors, _internetdb, _native, _shodan, _shodan_tools
from netatlas.api._admission import Admission, AdmissionControl
from netatlas.api._auth import COOKIE, authenticate
from netatlas.api._docs import add_docs
from netatlas.api._guard import RequestGuard
from netatlas.api._limits import (
    AUTH_FAIL_BURST,
    AUTH_FAIL_RATE,
    BURST,
    MAX_QUERIES,
    MAX_WAIT,
    MAX_WAITING,
    RATE,
)
from netatlas.api._ratelimit import RateLimiter
from netatlas.api._scans import ScanManager, check_allow
from netatlas.api._services import Services
from netatlas.enrich import GeoIP
from netatlas.store import open_store, resolve_db_path

log = logging.getLogger(__name__)

DEFAULT_RATE = RATE  # requests per second per key
DEFAULT_BURST = BURST
READERS = 8  # a store that does not say how many reads it serves at once
ALWAYS_EXCLUDED_PORTS = "2024"  # never probed from the API


def create_app(
    db: str | None = None,
    *,
    open_access: bool = False,
    allow: Sequence[str] = (),
    geoip: str | Sequence[str] | None = None,
    rate: float = DEFAULT_RATE,
    burst: int = DEFAULT_BURST,
    exclude_ports: str | None = ALWAYS_EXCLUDED_PORTS,
    broker: str | None = None,
    auth_fail_rate: float = AUTH_FAIL_RATE,
    auth_fail_burst: int = AUTH_FAIL_BURST,
    max_queries: int | None = MAX_QUERIES,
    max_waiting: int = MAX_WAITING,
    max_wait: float = MAX_WAIT,
) -> FastAPI:
    """Build the app over the store at ``db``.

    ``open_access`` serves requests without a key, and only from loopback clients (the
    ``serve`` command refuses it on any other listening address). ``allow`` is the
    server's scan allow list; API scans may only narrow it. ``geoip`` names one or
    more MMDB files used to fill ``location``/``asn``/``org``. ``rate``/``burst`` are
    the per-key token bucket (a key may carry its own); ``auth_fail_rate``/
    ``auth_fail_burst`` the bucket of failed key checks per client address (past it,
    429 with Retry-After). ``max_queries`` requests read the store at once (None: as
    many as the store's reader pool), ``max_waiting`` more wait their turn for at
    most ``max_wait`` s; past either, 503 with Retry-After (``_admission.py``).
    """
    path = resolve_db_path(db)
    allow = list(allow)
    check_allow(allow)  # refuse a malformed allow list now, not on the first scan
    store = open_store(path)
    services = Services(
        db=path,
        store=store,
        limiter=RateLimiter(rate, burst),
        scans=ScanManager(store, allow, exclude_ports=exclude_ports, broker=broker),
        allow=allow,
        geoip=GeoIP.open(geoip),
        open_access=open_access,
        auth_failures=RateLimiter(auth_fail_rate, auth_fail_burst),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await services.scans.shutdown()
        services.close()

    app = FastAPI(
        title="netatlas",
        version=_version(),
        summary="Search what is exposed on the networks you may scan.",
        description=(
            "Native API under `/api/v1`; Shodan-compatible endpoints under `/shodan/...` "
            "and `/api-info` (point the shodan client's `base_url` at this server's root). "
            "Send an API key as `?key=`, `Authorization: Bearer KEY` or `X-API-Key`."
        ),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's load from a CDN: ours are served from the package
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.services = services
    _errors.install(app)
    add_docs(app)
    app.include_router(_native.create_router())
    app.include_router(_shodan.create_router())
    app.include_router(_internetdb.create_router())
    app.include_router(_shodan_tools.create_router())
    app.include_router(_alerts.create_router())
    _mount_web(app, services)

    @app.middleware("http")
    async def key_cookie(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        secret = getattr(request.state, "key_cookie", None)
        if secret and not request.url.path.startswith(
                ("/api/", "/shodan/", "/api-info", "/tools/", "/internetdb/", "/notifier")):
            # a browser that opened a page with ?key= keeps it for the links it follows
            response.set_cookie(COOKIE, secret, httponly=True, samesite="strict")
        return response

    running = max_queries or int(getattr(store, "readers", READERS))
    app.add_middleware(AdmissionControl, admission=Admission(running, max_waiting, max_wait))
    app.add_middleware(RequestGuard)  # added last: the outermost, before any body is read
    return app


def _mount_web(app: FastAPI, services: Services) -> None:
    try:
        from netatlas.web import create_router
    except ImportError:
        log.info("netatlas.web not available; serving the API only")
        return
    app.include_router(create_router(services), dependencies=[Depends(authenticate)])


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("netatlas")
    except Exception:
        return "0"
