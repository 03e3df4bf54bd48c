"""Every HTML page the app serves carries a same-origin Content-Security-Policy
(issue 15, defect 9: /docs and /redoc sent none)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from netatlas.api import create_app
from netatlas.store import open_store
from netatlas.web import create_router
from tests.api.conftest import fill

SAMPLES = {"ip": "127.20.0.2", "ips": "127.20.0.2", "path": "app.css"}


def _get_paths(app: FastAPI) -> list[str]:
    """GET paths: the documented API's, the UI's (kept out of the schema), the docs."""
    api = [p for p, ops in app.openapi()["paths"].items() if "get" in ops]
    ui = [r.path for r in create_router(app.state.services).routes
          if isinstance(r, APIRoute) and "GET" in r.methods]
    return [*api, *ui, "/docs", "/redoc"]


async def test_every_html_page_has_a_same_origin_csp(tmp_path: Path) -> None:
    """Each GET route of the whole app (API, Shodan, docs, UI), path parameters filled
    with a sample: whatever answers HTML carries the policy."""
    db = tmp_path / "csp.db"
    fill(db)
    store = open_store(db)
    key = store.create_key("admin", "csp")[0]
    store.close()
    app = create_app(str(db))
    html = []
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for template in _get_paths(app):
            path = template
            for name, value in SAMPLES.items():
                path = path.replace(f"{{{name}}}", value).replace(f"{{{name}:path}}", value)
            r = await c.get(path, headers={"X-API-Key": key})
            if r.headers.get("content-type", "").startswith("text/html"):
                html.append(path)
                policy = r.headers.get("content-security-policy", "")
                assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
                assert "http" not in policy and "*" not in policy, path
    app.state.services.close()
    assert {"/docs", "/redoc", "/search", "/dashboard", "/map"} <= set(html), html
