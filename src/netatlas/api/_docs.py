"""/docs (Swagger UI) and /redoc served from the machine itself: their scripts and
styles come from the pinned ``fastapi-offline`` wheel, never from a CDN (a blank page
offline, and a third party told who reads the docs), under a same-origin
Content-Security-Policy. FastAPI's own pages load from a CDN and start Swagger UI with
an inline script, so they are turned off and replaced here."""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response

from netatlas.api._limits import PUBLIC_PREFIX

_VENDOR = Path(str(resources.files("fastapi_offline").joinpath("static")))
_OURS = Path(str(resources.files("netatlas.api").joinpath("static")))
# the only names served: a lookup, so no path from the URL reaches the file system
ASSETS = {
    "swagger-ui-bundle.js": (_VENDOR, "text/javascript; charset=utf-8"),
    "swagger-ui.css": (_VENDOR, "text/css; charset=utf-8"),
    "redoc.standalone.js": (_VENDOR, "text/javascript; charset=utf-8"),
    "favicon.png": (_VENDOR, "image/png"),
    "docs-init.js": (_OURS, "text/javascript; charset=utf-8"),
}



def csp(inline_styles: bool = False, workers: bool = False) -> str:
    """Same origin only. Redoc needs two loosenings, on its page alone: its
    styled-components write <style> elements, and its search index runs in a worker
    made from a blob: URL. Neither lets a script in."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'" + (" 'unsafe-inline'" if inline_styles else ""),
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",  # the OpenAPI document
        "worker-src " + ("'self' blob:" if workers else "'none'"),
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ])


def headers(policy: str) -> dict[str, str]:
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}

_SWAGGER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}swagger-ui.css">
<link rel="icon" href="{assets}favicon.png">
</head><body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{assets}swagger-ui-bundle.js"></script>
<script src="{assets}docs-init.js"></script>
</body></html>
"""

_REDOC = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{assets}favicon.png">
</head><body>
<noscript>ReDoc needs JavaScript; the same API is in {openapi}.</noscript>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}redoc.standalone.js"></script>
</body></html>
"""


def _page(template: str, app: FastAPI, title: str, policy: str) -> HTMLResponse:
    html = template.format(title=escape(title), assets=PUBLIC_PREFIX,
                           openapi=escape(app.openapi_url or "/openapi.json"))
    return HTMLResponse(html, headers=headers(policy))


def add_docs(app: FastAPI) -> None:
    """Routes for /docs, /redoc and their assets; create the app with ``docs_url``,
    ``redoc_url`` and ``swagger_ui_oauth2_redirect_url`` set to None."""

    @app.get("/docs", include_in_schema=False)
    def swagger() -> Response:
        return _page(_SWAGGER, app, f"{app.title} — API", csp())

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return _page(_REDOC, app, f"{app.title} — API reference",
                     csp(inline_styles=True, workers=True))

    @app.get(PUBLIC_PREFIX + "{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        found = ASSETS.get(name)
        if found is None:
            raise HTTPException(status_code=404)
        folder, media = found
        return FileResponse(folder / name, media_type=media,
                            headers={**headers(csp()),
                                     "Cache-Control": "public, max-age=86400"})
