"""/docs and /redoc (issue 15, defect 9) render in Chromium from the package alone: no
request leaves the server (a CDN would make them blank offline and tell a third party
who reads the docs), and they carry a same-origin Content-Security-Policy that the
page does not violate."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netatlas.api import create_app
from tests.api.conftest import fill
from tests.web.conftest import WATCH_SCRIPT, _free_socket, screenshot

HOST = "127.20.230.3"
REDOC_LOGO = "img-src https://cdn.redoc.ly/redoc/logo-mini.svg "


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    db: Path = tmp_path_factory.mktemp("docs") / "docs.db"
    fill(db)
    app = create_app(str(db))  # the docs need no key; everything else still does
    sock = _free_socket(HOST)
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://{HOST}:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.services.close()


def _csp(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        header = resp.headers["Content-Security-Policy"] or ""
    return dict([*d.strip().split(" ", 1), ""][:2] for d in header.split(";") if d.strip())


def _open(browser: Any, url: str, path: str) -> tuple[Any, list[str], Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside: list[str] = []

    def only_ours(route: Any) -> None:
        if route.request.url.startswith(url + "/"):
            route.continue_()
        else:  # recorded and stopped before it leaves the machine
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.add_init_script(WATCH_SCRIPT)
    page.goto(url + path)
    return page, outside, context


def _wait(page: Any, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


@pytest.mark.parametrize("path,rendered", [
    ("/docs", "document.querySelectorAll('.swagger-ui .opblock').length > 10"),
    ("/redoc", "document.querySelectorAll('redoc [role=menuitem], .menu-content li')"
               ".length > 10"),
])
def test_docs_render_from_the_package_alone(browser: Any, api_url: str, path: str,
                                            rendered: str) -> None:
    page, outside, context = _open(browser, api_url, path)
    try:
        assert outside == []  # goto waited for the load event: every script was asked for
        _wait(page, rendered)
        assert "netatlas" in page.inner_text("body")
        screenshot(page, "docs" + path.replace("/", "-"))
        assert outside == []
        # Redoc's bundle hard-codes its footer logo from its maker's CDN; the policy
        # blocks it before any request is made (it is not in `outside`), and that
        # block is the only one allowed
        assert [v for v in page.evaluate("window.__violations") if v != REDOC_LOGO] == []
    finally:
        context.close()
    csp = _csp(api_url + path)
    assert csp.get("default-src") == "'none'", csp
    assert csp.get("script-src") == "'self'", csp  # no CDN, no inline script, no eval
    assert all("http" not in v and "*" not in v for v in csp.values()), csp


def test_docs_assets_are_ours(api_url: str) -> None:
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        with urllib.request.urlopen(f"{api_url}/docs/assets/{name}", timeout=30) as resp:
            assert resp.status == 200 and len(resp.read()) > 100_000, name
    for bad in ("../_app.py", "%2e%2e/_app.py", "x%00.js", "nope.js"):
        try:
            urllib.request.urlopen(f"{api_url}/docs/assets/{bad}", timeout=30)
            raise AssertionError(bad)
        except urllib.error.HTTPError as err:
            assert err.code in (400, 401, 404), bad

